#!/usr/bin/env bash
# Continue a training run on a lent GPU machine, then evaluate it there (fp32, Set5 + Set14).
#
#   bash training/lent_gpu.sh CARRY OUT MINUTES [extra training flags]
#
# CARRY holds what travels with the working tree (see training/README.md, "On a lent GPU"):
#   CARRY/run       a compact copy of the run (python -m training.checkpoint --compact)
#   CARRY/train-y   ../shared/datasets/train-y (T91 + BSD200 as 8-bit Y)
#   CARRY/Set5, CARRY/Set14
# OUT receives the continued run (OUT/run: chunks of at most 15 MiB), gpu.log and eval.json.
# The learning rate follows a cosine over MINUTES (--anneal-minutes), so the session ends at
# the floor whatever the device's speed turns out to be.
set -u -o pipefail
carry=$1 out=$2 minutes=$3
shift 3
log=$out/gpu.log
mkdir -p "$out/run"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__, "cuda", torch.cuda.is_available())'
} 2>&1 | tee "$log"
cp "$carry"/run/* "$out/run/"
train() {
  PYTHONUNBUFFERED=1 python3 -m training.train --run "$out/run" --resume \
    --data "$carry/train-y/T91" "$carry/train-y/BSD200" \
    --budget-minutes "$minutes" --anneal-minutes "$minutes" --checkpoint-minutes 2 "$@" 2>&1 | tee -a "$log"
}
start=$SECONDS
if ! train "$@" && ((SECONDS - start < 120)); then
  # A failure in the first steps is most likely the background sampler; once more without it.
  echo "training failed early; retrying with --prefetch off" | tee -a "$log"
  train "$@" --prefetch off
fi
PYTHONUNBUFFERED=1 python3 -m training.evaluate --model "$out/run" --device cuda \
  --dataset "$carry/Set5" --dataset "$carry/Set14" --json "$out/eval.json" 2>&1 | tee -a "$log"
