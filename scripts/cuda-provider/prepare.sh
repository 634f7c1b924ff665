#!/usr/bin/env bash
# Prepares, on a machine with the npm registry, everything a lent GPU machine (no network, at
# most 64 MiB per call) needs to run our engine on ONNX Runtime's CUDA execution provider, and
# prints the `run` calls that carry it there. Run from anywhere in the repository:
#
#   bash scripts/cuda-provider/prepare.sh
#
# What it makes (all under .device-cuda/, which git ignores; nothing here is ever committed; not
# under .device/, which the training trip carries whole, see training/README.md):
#   download/    the npm tarballs (npm pack): the provider package, onnxruntime-node and
#                onnxruntime-common of the provider's ONNX Runtime release
#   stage/       what the GPU machine gets: ort/onnxruntime-node (the runtime, its napi binding
#                and the CUDA provider, pruned to sm_90 cubins), node/bin/node, node_modules/
#                (the CLI's production dependencies but onnxruntime-node), models/, photos/,
#                SHA256SUMS and VERSIONS
#   full/        the unpruned provider, carried only if the pruned one fails (see on-gpu.sh)
#   parts/       base.tar.xz.part-NN and full-provider.xz.part-NN, each at most PART_MIB
#   manifest.txt parts and their sha256, the provider's NEEDED libraries; carried every call
#
# Settings (environment):
#   PART_MIB      size of a part (default 56): a call carries the working tree + one part +
#                 manifest.txt, and all of it must stay under 64 MiB
#   PROVIDER_PKG  npm package holding libonnxruntime_providers_cuda.so
#                 (default com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9)
#   KEEP_SM       GPU architecture whose cubins the pruned provider keeps (default 90: H100/H200)
#   MODEL_FILES   files of models/ to carry (default "cmsc.json cmsc.onnx": the GPU default)
#   PHOTO         the photo to time (default the first JPEG of ../shared/datasets/Sun40)
set -euo pipefail

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$ROOT"
WORK=.device-cuda
PART_MIB=${PART_MIB:-56}
PROVIDER_PKG=${PROVIDER_PKG:-com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9}
KEEP_SM=${KEEP_SM:-90}
MODEL_FILES=${MODEL_FILES:-cmsc.json cmsc.onnx}
PHOTO=${PHOTO:-$(find ../shared/datasets/Sun40 -maxdepth 1 -name '*.jpg' 2>/dev/null | sort | head -1)}
NICE="nice -n 10"

say() { printf '%s\n' "$*"; }
die() { printf 'prepare.sh: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
bytes() { stat -c %s "$1"; }
# ONNX Runtime release strings (1.NN.N) a library carries
ort_versions() { strings -n 5 "$1" | grep -xE '1\.[0-9]{2}\.[0-9]+' | sort -u | tr '\n' ' '; }

git check-ignore -q "$WORK/x" || die "$WORK is not git-ignored (add /$WORK/ to .gitignore)"
for tool in npm node xz split sha256sum readelf strings python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
[ -n "$PHOTO" ] && [ -f "$PHOTO" ] || die "no photo: set PHOTO=path/to/photo.jpg"

mkdir -p "$WORK/download"

say "== 1. download (npm pack) =="
# The provider package, then onnxruntime-node and onnxruntime-common of the provider's release.
provider_tgz=$(cd "$WORK/download" && npm pack --silent "$PROVIDER_PKG" | tail -1)
rm -rf "$WORK/x" && mkdir -p "$WORK/x/provider"
tar -xzf "$WORK/download/$provider_tgz" -C "$WORK/x/provider"
provider_dir=$(dirname "$(find "$WORK/x/provider" -name libonnxruntime_providers_cuda.so | head -1)")
[ -f "$provider_dir/libonnxruntime_providers_cuda.so" ] ||
  die "$PROVIDER_PKG holds no libonnxruntime_providers_cuda.so"
[ -f "$provider_dir/libonnxruntime_providers_shared.so" ] ||
  die "$PROVIDER_PKG holds no libonnxruntime_providers_shared.so"
provider_ort=$(ort_versions "$provider_dir/libonnxruntime_providers_cuda.so" | awk '{print $1}')
[ -n "$provider_ort" ] || die "no ONNX Runtime version string in the provider"
say "provider: $PROVIDER_PKG -> $provider_tgz, ONNX Runtime $provider_ort"
if ! npm view "onnxruntime-node@$provider_ort" version >/dev/null 2>&1 ||
  [ -z "$(npm view "onnxruntime-node@$provider_ort" version 2>/dev/null)" ]; then
  die "onnxruntime-node@$provider_ort is not on npm: no runtime matches this provider"
fi
runtime_tgz=$(cd "$WORK/download" && npm pack --silent "onnxruntime-node@$provider_ort" | tail -1)
common_tgz=$(cd "$WORK/download" && npm pack --silent "onnxruntime-common@$provider_ort" | tail -1)
say "runtime:  onnxruntime-node@$provider_ort -> $runtime_tgz; onnxruntime-common -> $common_tgz"

say "== 2. stage =="
stage=$WORK/stage
rm -rf "$stage" "$WORK/full" && mkdir -p "$stage" "$WORK/full"
ortdir=$stage/ort/onnxruntime-node
bindir=$ortdir/bin/napi-v6/linux/x64
mkdir -p "$WORK/x/runtime" "$WORK/x/common" "$bindir" "$ortdir/node_modules/onnxruntime-common"
tar -xzf "$WORK/download/$runtime_tgz" -C "$WORK/x/runtime"
tar -xzf "$WORK/download/$common_tgz" -C "$WORK/x/common"
# Only what loads at run time: package.json, dist/, the linux/x64 binding and runtime.
cp -a "$WORK/x/runtime/package/package.json" "$WORK/x/runtime/package/dist" "$ortdir/"
cp -a "$WORK/x/runtime/package/bin/napi-v6/linux/x64/." "$bindir/"
cp -a "$WORK/x/common/package/." "$ortdir/node_modules/onnxruntime-common/"
cp -a "$provider_dir/libonnxruntime_providers_shared.so" "$bindir/"
# ORT loads providers from the folder of libonnxruntime.so: the binding's folder.
$NICE python3 scripts/cuda-provider/prune_fatbin.py "$provider_dir/libonnxruntime_providers_cuda.so" \
  "$bindir/libonnxruntime_providers_cuda.so" --keep "$KEEP_SM" | sed 's/^/  /'
cp -a "$provider_dir/libonnxruntime_providers_cuda.so" "$WORK/full/"

runtime_ort=$(ort_versions "$bindir/libonnxruntime.so.1" | grep -oE '1\.[0-9]{2}\.[0-9]+' | head -1)
runtime_symbols=$(readelf --dyn-syms -W "$bindir/libonnxruntime.so.1" | grep -oE 'VERS_1\.[0-9]+\.[0-9]+' | sort -u | tr '\n' ' ')
[ "$runtime_ort" = "$provider_ort" ] ||
  die "runtime is ONNX Runtime $runtime_ort, provider $provider_ort: they must match"
say "ONNX Runtime: runtime $runtime_ort (symbols $runtime_symbols), provider $provider_ort: match"

# node: the GPU image may have none; on-gpu.sh uses this one unless it finds node >= 20.19.
mkdir -p "$stage/node/bin"
cp -a "$(readlink -f "$(command -v node)")" "$stage/node/bin/node"
# The CLI's production dependencies as installed here, less onnxruntime-node (ort/ replaces it).
npm ls --omit=dev --all --parseable 2>/dev/null | sed "s|^$ROOT/||" |
  grep -E '^node_modules/(@[^/]+/)?[^/]+$' | grep -vx 'node_modules/onnxruntime-node' |
  while read -r dependency; do cp -a --parents "$dependency" "$stage/"; done
for required in tsx sharp @img/sharp-libvips-linux-x64 @esbuild/linux-x64; do
  [ -d "$stage/node_modules/$required" ] || die "node_modules/$required is not installed here (npm ci first)"
done
mkdir -p "$stage/models" "$stage/photos"
for file in $MODEL_FILES; do cp -a "models/$file" "$stage/models/"; done
cp -a "$PHOTO" "$stage/photos/"

(cd "$stage" && find . -type f ! -name SHA256SUMS -printf '%P\n' | sort | xargs -d '\n' sha256sum >SHA256SUMS)
needed=$(readelf -d "$provider_dir/libonnxruntime_providers_cuda.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
# Libraries it opens at run time (dlopen), not in NEEDED. The compiler built two of the names
# from 8-byte immediates, so strings shows them in pieces: "libcudnn" + "dnn.so.9", "libcufft" + "ft.so.12".
provider_strings=$(strings -n 4 "$provider_dir/libonnxruntime_providers_cuda.so")
cudnn_major=$(sed -nE 's/^dnn\.so\.([0-9]+).*/\1/p' <<<"$provider_strings" | head -1)
cufft_major=$(sed -nE 's/^ft\.so\.([0-9]+).*/\1/p' <<<"$provider_strings" | head -1)
nvrtc=$(grep -xE 'libnvrtc\.so\.[0-9]+' <<<"$provider_strings" | sort -V | tail -1)
dlopened="${cudnn_major:+libcudnn.so.$cudnn_major }${cufft_major:+libcufft.so.$cufft_major }$nvrtc"
{
  say "provider package   $PROVIDER_PKG ($provider_tgz sha256 $(sha "$WORK/download/$provider_tgz"))"
  say "runtime package    onnxruntime-node@$provider_ort ($runtime_tgz sha256 $(sha "$WORK/download/$runtime_tgz"))"
  say "common package     onnxruntime-common@$provider_ort ($common_tgz sha256 $(sha "$WORK/download/$common_tgz"))"
  say "ORT in provider    $provider_ort"
  say "ORT in runtime     $runtime_ort ($runtime_symbols)"
  say "provider NEEDED    $needed"
  say "provider dlopens   $dlopened"
  say "provider cubins    sm_$KEEP_SM kept, others zeroed (full/ holds the original)"
  say "provider sha256    $(sha "$provider_dir/libonnxruntime_providers_cuda.so") (original), $(sha "$bindir/libonnxruntime_providers_cuda.so") (pruned)"
  say "node               $(node --version)"
  say "models             $MODEL_FILES"
  say "photo              $(basename "$PHOTO")"
} >"$stage/VERSIONS"
sed 's/^/  /' "$stage/VERSIONS"
rm -rf "$WORK/x"  # the unpacked tarballs: stage/ and full/ hold what is needed
say "staged $(du -sb "$stage" | cut -f1) bytes in $(find "$stage" -type f | wc -l) files"

say "== 3. compress and split into parts of $PART_MIB MiB =="
# Compressing takes minutes on a busy 2-core machine; skip it when the stage did not change.
mkdir -p "$WORK/parts"
if [ -f "$WORK/base.tar.xz" ] && cmp -s "$stage/SHA256SUMS" "$WORK/base.SHA256SUMS"; then
  say "stage unchanged since the last run: keeping base.tar.xz"
else
  rm -f "$WORK/parts/base.tar.xz.part-"*
  tar -C "$stage" -cf - . | $NICE xz -6 -T2 >"$WORK/base.tar.xz.tmp"
  mv "$WORK/base.tar.xz.tmp" "$WORK/base.tar.xz"
  cp "$stage/SHA256SUMS" "$WORK/base.SHA256SUMS"
fi
full_sha=$(sha "$WORK/full/libonnxruntime_providers_cuda.so")
if [ -f "$WORK/full-provider.xz" ] && [ "$(cat "$WORK/full-provider.sha256" 2>/dev/null)" = "$full_sha" ]; then
  say "provider unchanged since the last run: keeping full-provider.xz"
else
  rm -f "$WORK/parts/full-provider.xz.part-"*
  $NICE xz -6 -T2 -c "$WORK/full/libonnxruntime_providers_cuda.so" >"$WORK/full-provider.xz.tmp"
  mv "$WORK/full-provider.xz.tmp" "$WORK/full-provider.xz"
  printf '%s\n' "$full_sha" >"$WORK/full-provider.sha256"
fi
rm -f "$WORK/parts/"*
split -b "${PART_MIB}M" -d -a 2 "$WORK/base.tar.xz" "$WORK/parts/base.tar.xz.part-"
split -b "${PART_MIB}M" -d -a 2 "$WORK/full-provider.xz" "$WORK/parts/full-provider.xz.part-"

manifest=$WORK/manifest.txt
{
  say "# scripts/cuda-provider/on-gpu.sh reads this; prepare.sh wrote it $(date -u +%FT%TZ) at $(git rev-parse --short HEAD)"
  say "bundle base $(sha "$WORK/base.tar.xz") $(bytes "$WORK/base.tar.xz")"
  say "bundle full-provider $(sha "$WORK/full-provider.xz") $(bytes "$WORK/full-provider.xz")"
  say "file full-provider libonnxruntime_providers_cuda.so $full_sha"
  for part in "$WORK/parts/"*; do say "part $(basename "$part") $(sha "$part") $(bytes "$part")"; done
  say "needed $needed"
  say "dlopened $dlopened"
  say "ort $provider_ort"
  say "keep_sm $KEEP_SM"
  say "photo $(basename "$PHOTO")"
  say "model ${MODEL_FILES%%.json*}"
} >"$manifest"

say "== 4. what travels =="
# The working tree travels with every call: tracked files plus untracked ones git does not ignore.
# (stat skips tracked files deleted here: they do not travel either)
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | { xargs -0 stat -c %s 2>/dev/null || true; } | awk '{s+=$1} END {print s+0}')
heavy_bytes=$(git ls-files -z --cached --others --exclude-standard -- 'models/*.onnx' training/checkpoints | { xargs -0 stat -c %s 2>/dev/null || true; } | awk '{s+=$1} END {print s+0}')
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
largest_part=$(stat -c %s "$WORK/parts/"* | sort -n | tail -1)
say "working tree: $(mib "$tree_bytes") MiB, of which models/*.onnx and training/checkpoints/ $(mib "$heavy_bytes") MiB"
say "largest part: $(mib "$largest_part") MiB; manifest: $(bytes "$manifest") bytes"
if awk -v t="$tree_bytes" -v p="$largest_part" 'BEGIN {exit !(t + p > 63 * 1048576)}'; then
  say "!! tree + part is over 63 MiB: before the calls, take models/*.onnx and training/checkpoints/"
  say "!! out of the index for the trip (training/README.md, 'On a lent GPU'), or lower PART_MIB"
fi

say "== 5. the calls (back to back: a machine idle for 30 s is given back with everything on it) =="
base_parts=$(cd "$WORK/parts" && ls base.tar.xz.part-*)
full_parts=$(cd "$WORK/parts" && ls full-provider.xz.part-*)
count=$(echo "$base_parts" | wc -l)
n=0
for part in $base_parts; do
  n=$((n + 1))
  say "call $n/$count: run(carry=[\"$manifest\", \"$WORK/parts/$part\"], command=\"bash scripts/cuda-provider/on-gpu.sh\", timeout_s=$([ "$n" = "$count" ] && echo 420 || echo 120))"
done
say "Each call prints the parts it holds and the CUDA libraries it found; the last one installs and"
say "runs the photo on cpu and cuda (log and timings in \$OUT). Only if it reports that the sm_$KEEP_SM-only"
say "provider failed to load its kernels, carry the full provider, again back to back:"
for part in $full_parts; do
  say "  run(carry=[\"$manifest\", \"$WORK/parts/$part\"], command=\"bash scripts/cuda-provider/on-gpu.sh\")"
done
