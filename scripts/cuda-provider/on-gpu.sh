#!/usr/bin/env bash
# Runs our engine on ONNX Runtime's CUDA execution provider on a lent GPU machine, from the parts
# prepare.sh made. Run in the repository root there, once per call that carries a part:
#
#   bash scripts/cuda-provider/on-gpu.sh            # the same command every call
#   bash scripts/cuda-provider/on-gpu.sh --cpu-check  # on a machine without a GPU: go on past
#                                                     # missing CUDA libraries, time the CPU, show
#                                                     # the engine's own error for --device cuda
# Each call:
#   1. lists the parts it holds (sha256 against manifest.txt) and which are still to come;
#   2. looks for the GPU (nvidia-smi), CUDA (/usr/local/cuda*), PyTorch, and every library the
#      provider needs (NEEDED) or opens (cuDNN), in LD_LIBRARY_PATH, the driver's folders,
#      /usr/local/cuda*, Python's site-packages/nvidia/*/lib and ldconfig, and prints them;
#   3. once every base part is here: joins them, checks sha256, unpacks to .device-cuda/install,
#      puts the CLI's dependencies in node_modules/ where missing (never replacing one), and
#      (only if the full-provider parts came too) swaps in the unpruned provider;
#   4. says exactly which library is missing and stops, or runs the photo through
#      bin/cmsc-upscale.js on cpu and then on cuda, with CMSC_ONNXRUNTIME_PATH naming the
#      provider's runtime release, and prints the timings and how far the outputs differ.
# The log goes to $OUT/cuda-provider.log (or .device-cuda/out/ where OUT is unset).
# Exit status: 0 the engine ran on cuda; 2 parts still to come; 3 a library is missing;
# 4 no GPU here; 5 the engine failed on cuda; 1 anything else.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
WORK=.device-cuda
MANIFEST=$WORK/manifest.txt
INSTALL=$WORK/install
ORT_DIR=$INSTALL/ort/onnxruntime-node
BIN_DIR=$ORT_DIR/bin/napi-v6/linux/x64
PROVIDER=$BIN_DIR/libonnxruntime_providers_cuda.so
OUT_DIR=${OUT:-$WORK/out}
CPU_CHECK=0
[ "${1:-}" = "--cpu-check" ] && CPU_CHECK=1
# Copies of the photo per device, in one CLI run each: the first includes the session's start.
CPU_RUNS=${CPU_RUNS:-1}
CUDA_RUNS=${CUDA_RUNS:-3}
# The CPU run is only the baseline: stop it after this long rather than spend the GPU's minutes
# (paper-size cmsc x2 on the 1024x768 photo took 364 s on this repo's busy 2-core CPU machine).
CPU_LIMIT_S=${CPU_LIMIT_S:-120}

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s ==\n' "$*"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
manifest_field() { awk -v key="$1" '$1 == key { $1 = ""; sub(/^ /, ""); print }' "$MANIFEST"; }
seconds_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN {printf "%.2f", (b - a) / 1e9}'; }

# xz, or Python's lzma where the image has no xz.
unxz_to_stdout() {
  if command -v xz >/dev/null; then
    xz -dc "$1"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
  fi
}

# A part is sound when its size and sha256 are the manifest's.
part_sound() { [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$2" ] && [ "$(sha "$1")" = "$3" ]; }

# Parts of the bundle stored as $1.part-NN: prints "have/missing/corrupt" lines; returns 0 when
# all are here and sound. A sound part that came in parts/ is linked into received/ at once, so
# it stays even if a later call's carry were to replace the parts/ folder.
check_parts() {
  local file=$1 complete=0 name digest size
  mkdir -p "$WORK/received"
  while read -r name digest size; do
    if part_sound "$WORK/received/$name" "$size" "$digest"; then
      say "  have     $name"
    elif part_sound "$WORK/parts/$name" "$size" "$digest"; then
      ln -f "$WORK/parts/$name" "$WORK/received/$name" 2>/dev/null || cp "$WORK/parts/$name" "$WORK/received/$name"
      say "  have     $name (new)"
    elif [ -f "$WORK/parts/$name" ]; then
      say "  corrupt  $name (carry it again)"
      complete=1
    else
      say "  missing  $name"
      complete=1
    fi
  done < <(awk -v f="$file" '$1 == "part" && index($2, f ".part-") == 1 { print $2, $3, $4 }' "$MANIFEST")
  return $complete
}

# Joins the received parts of bundle $1 (files $2.part-NN) into $2 and checks it against the manifest.
join_parts() {
  local bundle=$1 file=$2 expected
  expected=$(awk -v b="$bundle" '$1 == "bundle" && $2 == b { print $3 }' "$MANIFEST")
  # joined/, not the top of $WORK: where prepare.sh ran, its own bundles lie there
  mkdir -p "$WORK/joined"
  cat "$WORK/received/$file".part-* >"$WORK/joined/$file"
  [ "$(sha "$WORK/joined/$file")" = "$expected" ] || { say "joined $file has the wrong sha256"; return 1; }
}

# Folders to search for CUDA libraries, in this order: LD_LIBRARY_PATH; the driver's folders;
# PyTorch's pip wheels (site-packages/nvidia/*/lib: one CUDA 13 set that PyTorch runs on here)
# before the toolkit in /usr/local/cuda*, whose minor version may differ; the system's.
library_roots() {
  local folder site
  tr ':' '\n' <<<"${LD_LIBRARY_PATH:-}" | sed '/^$/d'
  for folder in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -d "$folder" ] && say "$folder"
  done
  for site in "${SITE_PACKAGES[@]}"; do
    [ -d "$site/nvidia" ] && find "$site/nvidia" -maxdepth 3 -type d -name lib | sort
    [ -d "$site/torch/lib" ] && say "$site/torch/lib"
  done
  for folder in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
    /usr/local/cuda-*/lib64 /usr/local/cuda-*/targets/x86_64-linux/lib \
    /usr/lib/x86_64-linux-gnu /usr/lib64 /lib64; do
    [ -d "$folder" ] && say "$folder"
  done
}

# The first file called $1 in the library roots, else in ldconfig's cache.
find_library() {
  local root
  for root in "${LIBRARY_ROOTS[@]}"; do
    if [ -e "$root/$1" ]; then
      say "$root/$1"
      return 0
    fi
  done
  ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n { print $NF; exit }' | grep . && return 0
  return 1
}

# --cpu-check on a machine with every CUDA 13 library but the driver's: an empty stand-in
# libcuda.so.1 lets the provider load, so ONNX Runtime's provider bridge (which has no stable
# ABI across releases) and the CUDA EP's constructor run until its first call to the driver.
bridge_check() {
  section "4b. provider bridge, with an empty stand-in libcuda.so.1 (--cpu-check only)"
  command -v cc >/dev/null || { say "no C compiler: skipped"; return; }
  local standin=$ROOT/$WORK/lib-standin
  mkdir -p "$standin"
  echo 'int cmsc_libcuda_stand_in;' >"$standin/empty.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$standin/libcuda.so.1" "$standin/empty.c" || return
  LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$standin "$NODE" -e "
    const ort = require(process.env.CMSC_ONNXRUNTIME_PATH);
    ort.InferenceSession.create('$INSTALL/models/$(manifest_field model).onnx', { executionProviders: ['cuda'], logSeverityLevel: 4 })
      .then(() => console.log('a CUDA session opened (unexpected without a GPU)'), (error) => {
        const reached = /CUDA failure|cudaSetDevice|cudaGetDevice/.test(error.message);
        console.log(reached
          ? 'the provider loaded into this runtime and its CUDA EP ran until the driver: ' + (error.message.match(/CUDA failure[^;]*;/) || [''])[0] + ' (' + (error.message.match(/expr=[^;]*/) || [''])[0] + ')'
          : 'the provider did not get as far as the driver: ' + error.message.split('\\n')[0]);
      });" 2>&1 | sed 's/^/  /'
}

# "copy1.jpg 12.34 s (cuda, cmsc fp32)" for each photo of the CLI report in folder $1.
photo_times() {
  "$NODE" -e '
    const fs = require("fs"), path = require("path");
    const dir = process.argv[1];
    const reports = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^cmsc-report-.*\.json$/.test(f)) : [];
    for (const report of reports)
      for (const row of JSON.parse(fs.readFileSync(path.join(dir, report), "utf8")).files)
        console.log(`  ${path.basename(row.input)} ${row.timeMs === null ? "-" : (row.timeMs / 1000).toFixed(2)} s (${row.device}, ${row.model} ${row.precision}, ${row.outputWidth}x${row.outputHeight}, ${row.state})`);
  ' "$1"
}

main() {
  say "on-gpu.sh $(date -u +%FT%TZ) on $(uname -n) ($(uname -m)), repo $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  [ -f "$MANIFEST" ] || { say "no $MANIFEST: carry it with every part (prepare.sh prints the calls)"; return 1; }
  say "$(head -1 "$MANIFEST")"

  section "1. parts"
  local base_ready=0 full_ready=0
  say "base:"
  check_parts base.tar.xz && base_ready=1
  say "full provider (only needed if the sm_$(manifest_field keep_sm)-only provider fails):"
  check_parts full-provider.xz && full_ready=1

  section "2. GPU, CUDA and the libraries the provider needs"
  local gpu_present=0
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    gpu_present=1
    nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader |
      sed 's/^/GPU: /'
    nvidia-smi | grep -m1 -o 'CUDA Version: [0-9.]*' | sed 's/^/driver /'
  else
    say "GPU: none (nvidia-smi $(command -v nvidia-smi >/dev/null && echo 'finds no device' || echo 'is not installed'))"
  fi
  local cuda
  for cuda in /usr/local/cuda /usr/local/cuda-*; do
    [ -e "$cuda" ] || continue
    say "CUDA toolkit: $cuda -> $(readlink -f "$cuda") $(grep -m1 -o '"version" *: *"[0-9.]*"' "$cuda/version.json" 2>/dev/null | tail -1)"
  done
  command -v nvcc >/dev/null && say "nvcc: $(nvcc --version | tail -1)"
  SITE_PACKAGES=()
  if command -v python3 >/dev/null; then
    local python_report
    python_report=$(timeout 120 python3 - <<'PY' 2>/dev/null
import importlib.util, site, sys
paths = [p for p in site.getsitepackages() + [site.getusersitepackages()]]
for name in ('torch', 'nvidia'):
    spec = importlib.util.find_spec(name)
    for location in (spec.submodule_search_locations or []) if spec else []:
        paths.append(location.rsplit('/', 1)[0])
print('sites', *dict.fromkeys(paths))
try:
    import torch
    print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(),
          'gpu', torch.cuda.is_available())
except Exception as error:
    print('torch', 'not importable:', str(error).splitlines()[0] if str(error) else type(error).__name__)
PY
    )
    read -r -a SITE_PACKAGES <<<"$(sed -n 's/^sites //p' <<<"$python_report")"
    say "python3: $(command -v python3); $(grep '^torch' <<<"$python_report")"
  fi
  mapfile -t LIBRARY_ROOTS < <(library_roots | awk '!seen[$0]++')

  # NEEDED from readelf, plus what the provider dlopens (cuDNN for every convolution; cuFFT and
  # nvrtc only for ops our models do not use). libcuda.so.1 is the driver's.
  local required optional name found missing=() folders=() private_libs=$ROOT/$WORK/lib
  required=$(manifest_field needed | tr ' ' '\n' | grep -vE '^(libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+|ld-linux-x86-64)\.so' | tr '\n' ' ')
  required="$required $(manifest_field dlopened | tr ' ' '\n' | grep '^libcudnn' | tr '\n' ' ')"
  optional=$(manifest_field dlopened | tr ' ' '\n' | grep -v '^libcudnn' | tr '\n' ' ')
  for name in $required $optional; do
    if found=$(find_library "$name"); then
      say "  found    $name  $found"
      folders+=("$(dirname "$found")")
    elif [[ " $optional " == *" $name "* ]]; then
      say "  absent   $name  (optional: only some ops use it)"
    else
      say "  MISSING  $name"
      missing+=("$name")
    fi
  done
  # cuDNN 9 is split into sub-libraries it opens from its own folder; give every versioned
  # file an unversioned name too, since the provider also tries plain libcudnn.so.
  mkdir -p "$private_libs"
  local cudnn
  if cudnn=$(find_library "libcudnn.so.$(manifest_field dlopened | grep -oE 'libcudnn\.so\.[0-9]+' | grep -oE '[0-9]+$')"); then
    say "  cuDNN folder: $(ls "$(dirname "$cudnn")" | grep -c '^libcudnn') libcudnn* files"
    local file
    for file in "$(dirname "$cudnn")"/libcudnn*.so.*; do
      ln -sf "$(readlink -f "$file")" "$private_libs/$(basename "${file%%.so.*}").so"
    done
  fi
  local library_path
  library_path=$(printf '%s\n' "$private_libs" "${folders[@]}" | awk '!seen[$0]++' | paste -sd:)
  export LD_LIBRARY_PATH="$library_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

  if [ "$base_ready" = 0 ]; then
    section "waiting"
    say "Carry the missing base parts (the next calls prepare.sh printed), back to back."
    [ "${#missing[@]}" -gt 0 ] && say "Even then the provider will not load here: missing ${missing[*]}"
    return 2
  fi

  section "3. install"
  local base_sha
  base_sha=$(awk '$1 == "bundle" && $2 == "base" { print $3 }' "$MANIFEST")
  if [ "$(cat "$INSTALL/.bundle" 2>/dev/null)" = "$base_sha" ]; then
    say "already unpacked in $INSTALL"
  else
    join_parts base base.tar.xz || return 1
    rm -rf "$INSTALL" && mkdir -p "$INSTALL"
    unxz_to_stdout "$WORK/joined/base.tar.xz" | tar -xf - -C "$INSTALL" || { say "unpacking failed"; return 1; }
    (cd "$INSTALL" && sha256sum --quiet -c SHA256SUMS) || { say "unpacked files fail their sha256"; return 1; }
    rm -f "$WORK/joined/base.tar.xz"
    printf '%s\n' "$base_sha" >"$INSTALL/.bundle"
    say "unpacked and checked $(wc -l <"$INSTALL/SHA256SUMS") files into $INSTALL"
  fi
  sed 's/^/  /' "$INSTALL/VERSIONS"
  local provider_kind="pruned to sm_$(manifest_field keep_sm)"
  if [ "$full_ready" = 1 ]; then
    local full_sha
    full_sha=$(awk '$1 == "file" && $2 == "full-provider" { print $4 }' "$MANIFEST")
    if [ "$(sha "$PROVIDER")" != "$full_sha" ]; then
      join_parts full-provider full-provider.xz || return 1
      unxz_to_stdout "$WORK/joined/full-provider.xz" >"$PROVIDER.tmp" && mv "$PROVIDER.tmp" "$PROVIDER"
      rm -f "$WORK/joined/full-provider.xz"
      [ "$(sha "$PROVIDER")" = "$full_sha" ] || { say "full provider has the wrong sha256"; return 1; }
    fi
    provider_kind="full (all architectures)"
  fi
  say "provider: $provider_kind"

  # node: the machine's own if new enough, else the carried one.
  NODE=$(command -v node || true)
  if [ -z "$NODE" ] || ! "$NODE" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
    NODE=$ROOT/$INSTALL/node/bin/node
  fi
  say "node: $NODE $("$NODE" --version)"
  # The CLI's dependencies: fill node_modules/ with the carried packages it lacks.
  local package added=0
  mkdir -p node_modules
  for package in "$INSTALL"/node_modules/* "$INSTALL"/node_modules/@*/*; do
    case "$package" in */@\*) continue ;; esac
    local relative=${package#"$INSTALL"/}
    [ -e "$relative" ] && continue
    mkdir -p "$(dirname "$relative")" && cp -a "$package" "$relative" && added=$((added + 1))
  done
  say "node_modules: added $added carried packages (those already there are kept)"
  export CMSC_ONNXRUNTIME_PATH=$ROOT/$ORT_DIR
  say "CMSC_ONNXRUNTIME_PATH=$CMSC_ONNXRUNTIME_PATH"
  "$NODE" -e "const o = require(process.env.CMSC_ONNXRUNTIME_PATH); console.log('runtime: onnxruntime-node', require(process.env.CMSC_ONNXRUNTIME_PATH + '/package.json').version, 'backends', o.listSupportedBackends().map(b => b.name + (b.bundled ? '' : ' (separate library)')).join(', '))" ||
    { say "the runtime does not load"; return 1; }

  section "4. does the provider load?"
  local unresolved
  unresolved=$(ldd "$PROVIDER" 2>&1 | awk '/not found/ { print $1 }' | tr '\n' ' ')
  say "ldd $PROVIDER:"
  ldd "$PROVIDER" | grep -E 'cu|nv|not found' | sed 's/^/ /'
  local verdict=0
  if [ -n "$unresolved" ] || [ "${#missing[@]}" -gt 0 ]; then
    say "MISSING: $(printf '%s\n' $unresolved "${missing[@]}" | awk '!seen[$0]++' | paste -sd' ')"
    verdict=3
  fi
  if [ "$gpu_present" = 0 ]; then
    say "NO GPU: nvidia-smi finds no device, so the CUDA provider cannot run here"
    verdict=4
  else
    local gpu_sm
    gpu_sm=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
    if [ "$full_ready" = 0 ] && [ "$gpu_sm" != "$(manifest_field keep_sm)" ]; then
      say "MISSING: cubins for this GPU (sm_$gpu_sm): the carried provider keeps sm_$(manifest_field keep_sm) only; carry the full-provider parts"
      verdict=3
    fi
  fi
  if [ "$CPU_CHECK" = 1 ] && [ "$gpu_present" = 0 ] &&
    [ "$(printf '%s\n' $unresolved "${missing[@]}" | awk '!seen[$0]++' | paste -sd' ')" = libcuda.so.1 ]; then
    bridge_check
  fi
  if [ "$verdict" != 0 ] && [ "$CPU_CHECK" = 0 ]; then
    say "stopping (exit $verdict): nothing was run"
    return $verdict
  fi

  section "5. the photo on cpu and on cuda"
  local photo model run_dir
  photo=$INSTALL/photos/$(manifest_field photo)
  model=$(manifest_field model)
  run_dir=$WORK/run
  rm -rf "$run_dir"
  local device copies limit i start rc result=0 times=()
  for device in cpu cuda; do
    copies=$CUDA_RUNS limit=0
    [ "$device" = cpu ] && copies=$CPU_RUNS limit=$CPU_LIMIT_S
    mkdir -p "$run_dir/in-$device"
    for i in $(seq 1 "$copies"); do cp "$photo" "$run_dir/in-$device/copy$i.${photo##*.}"; done
    say "-- $device: $copies copies of $(basename "$photo"), model $model, x2$([ "$limit" != 0 ] && echo ", stopped after $limit s") --"
    start=$(date +%s%N)
    # A private job store (XDG_CONFIG_HOME), new each call: a CPU run stopped at its limit leaves
    # a paused job, which must not resume into the next call's timing.
    XDG_CONFIG_HOME=$ROOT/$run_dir/config timeout -k 5 "$limit" "$NODE" bin/cmsc-upscale.js --device "$device" --model "$model" \
      --models "$INSTALL/models" --source clean --scale 2 --format png --overwrite overwrite \
      --out "$run_dir/$device" "$run_dir/in-$device" 2>&1 | sed "s/^/  [$device] /"
    rc=${PIPESTATUS[0]}
    times+=("$device: $(seconds_since "$start") s for $copies photos in one process, start included (exit $rc$([ "$rc" = 124 ] || [ "$rc" = 137 ] && echo ': stopped at the limit'))")
    say "  [$device] exit $rc after $(seconds_since "$start") s"
    # Each photo's own time (ms) from the job's report, which the CLI writes beside the outputs.
    times+=("$(photo_times "$run_dir/$device")")
    cp "$run_dir/$device"/cmsc-report-*.json "$OUT_DIR/report-$device.json" 2>/dev/null
    if [ "$rc" != 0 ] && [ "$device" = cuda ]; then result=5; fi
    if [ "$device" = cpu ] && [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 137 ]; then return 1; fi
  done
  if [ "$result" = 0 ] && [ -f "$run_dir/cpu/copy1_x2.png" ] && [ -f "$run_dir/cuda/copy1_x2.png" ]; then
    "$NODE" --input-type=module -e "
      import sharp from 'sharp';
      const read = (f) => sharp(f).raw().toBuffer({ resolveWithObject: true });
      const [a, b] = await Promise.all([read('$run_dir/cpu/copy1_x2.png'), read('$run_dir/cuda/copy1_x2.png')]);
      let max = 0, sum = 0;
      for (let i = 0; i < a.data.length; i++) { const d = Math.abs(a.data[i] - b.data[i]); max = Math.max(max, d); sum += d * d; }
      const mse = sum / a.data.length;
      console.log('cpu vs cuda output: ' + a.info.width + 'x' + a.info.height + ', max |diff| ' + max + ' of 255, PSNR ' + (mse ? (10 * Math.log10(255 * 255 / mse)).toFixed(2) + ' dB' : 'identical'));
    " 2>&1 | sed 's/^/  /'
  fi

  section "summary"
  say "ONNX Runtime $(manifest_field ort) through CMSC_ONNXRUNTIME_PATH; provider $provider_kind"
  printf '%s\n' "${times[@]}" | sed '/^$/d; s/^\([a-z]\)/  \1/'
  say "(a photo's own time: the first includes the session's start; the CLI reports are in \$OUT)"
  [ "$verdict" != 0 ] && { say "as found in step 4: exit $verdict"; return $verdict; }
  [ "$result" = 5 ] && say "the engine failed on cuda (its message is above); if it names kernels or 'no kernel image', carry the full-provider parts"
  return $result
}

mkdir -p "$OUT_DIR"
main "$@" 2>&1 | tee -a "$OUT_DIR/cuda-provider.log"
exit "${PIPESTATUS[0]}"
