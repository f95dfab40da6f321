#!/usr/bin/env bash
# run.sh of the GPU bundle (scripts/gpu-bundle.sh copies this there): every GPU check and a
# training burst, on a lent GPU machine that has the driver, the CUDA toolkit and a PyTorch, but
# none of our Debian packages, as root or not.
#
#   ./run.sh [--budget SECONDS] [--only STEP...] [--dry-run]
#
# Steps, in order of value, each with its own timeout, none started without the time it needs:
#   machine    the GPU, driver, SM count, clocks
#   tests      the gpu tests, one process per suite (a sticky CUDA error in one spares the rest)
#   sanitizer  compute-sanitizer memcheck, racecheck and synccheck on small shapes
#   bench      wavecast-bench: generator (nv-wavenet's shapes and the shipped ones, batch 1 to
#              256, fp32/fp16/bf16), conditioning, masking (1 to 256 streams)
#   daemon     render 20 s on CUDA; the daemon streaming into a private dummy jackd with 1, 16
#              and 64 streams (fp16) sharing one generator, and 16 each on its own, for 30 s each (rtf,
#              underruns, backend per stream); a 10 s recording
#   latency    the live profile (config/live.toml) on this backend, the medium model: 200 MIDI CC
#              steps of gain_db, a quarter second apart, timed to main_out_L on a dummy jackd of
#              256-frame periods by wavecast-latency (median, p95, worst, underruns)
#   train      the shipped small and medium models trained on, side by side, for what is left
# The budget (default 480 s) is never exceeded. Logs go to $OUT (else ./gpu-out): summary.txt,
# tests.log, bench.jsonl, daemon.log, latency.log and latency.json, train.log, and the trained small/medium.safetensors. A
# summary table (step, exit code, seconds, headline) is printed last. --dry-run checks that every
# step's programs and libraries are there and prints the plan, running nothing on a GPU.
# For trying the script itself on a machine without a GPU: WAVECAST_BUNDLE_BACKEND=cpu (the
# daemon step's backend); WAVECAST_BUNDLE_STREAM_SECONDS (30) and WAVECAST_BUNDLE_RENDER_SECONDS
# (20) shorten the daemon step where the budget is short; WAVECAST_BUNDLE_SKIP_TESTS (a gtest
# pattern, e.g. 'GeneratorCuda.TeacherForced*') leaves out tests a run has already seen pass.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
budget=480
dry=0
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) budget=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --only) shift; while [ $# -gt 0 ] && [[ $1 != --* ]]; do only+=("$1"); shift; done ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
steps=(machine tests sanitizer bench daemon latency train)
for s in "${only[@]}"; do
  [[ " ${steps[*]} " == *" $s "* ]] || { echo "run.sh: no step '$s' (steps: ${steps[*]})" >&2; exit 2; }
done
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
backend=${WAVECAST_BUNDLE_BACKEND:-cuda}
stream_seconds=${WAVECAST_BUNDLE_STREAM_SECONDS:-30}
render_seconds=${WAVECAST_BUNDLE_RENDER_SECONDS:-20}
export OUT here backend stream_seconds render_seconds
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
summary=()  # lines of the table

# --- Libraries: ours in lib/, CUDA's and cuDNN's wherever this machine keeps them. ---
python=""
for p in python3 /opt/torch/.venv/bin/python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import torch, numpy' 2>/dev/null; then python=$(command -v "$p"); break; fi
done
lib_dirs=("$here/lib")
candidates=(/usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/targets/x86_64-linux/lib)
if [ -n "$python" ]; then
  # PyTorch's wheels carry cuDNN (and the CUDA libraries) as nvidia.* packages.
  while read -r d; do candidates+=("$d"); done < <("$python" - <<'EOF' 2>/dev/null
import importlib, os
for name in ("nvidia.cudnn", "nvidia.cufft", "nvidia.cuda_runtime", "nvidia.cu13", "nvidia.cublas"):
    try:
        m = importlib.import_module(name)
    except ImportError:
        continue
    for p in m.__path__:
        if os.path.isdir(os.path.join(p, "lib")):
            print(os.path.join(p, "lib"))
EOF
)
fi
missing_libs() {
  for f in "$here"/bin/* "$here/lib/jack/jack_dummy.so"; do
    LD_LIBRARY_PATH=$(IFS=:; echo "${lib_dirs[*]}") ldd "$f" 2>/dev/null | awk -v f="$(basename "$f")" '/not found/ {print f": "$1}'
  done | sort -u
}
for need in $(missing_libs | awk '{print $2}' | sort -u); do
  for d in "${candidates[@]}"; do
    if [ -e "$d/$need" ]; then
      [[ " ${lib_dirs[*]} " == *" $d "* ]] || lib_dirs+=("$d")
      break
    fi
  done
done
export LD_LIBRARY_PATH=$(IFS=:; echo "${lib_dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export JACK_DRIVER_DIR=$here/lib/jack JACK_NO_AUDIO_RESERVATION=1
still=$(missing_libs)
{
  echo "bundle: $(head -1 "$here/VERSION" 2>/dev/null)"
  echo "libraries from: ${lib_dirs[*]}"
  echo "python: ${python:-none with torch and numpy}"
} >"$OUT/summary.txt"
if [ -n "$still" ]; then
  { echo "run.sh: libraries not found (looked in ${candidates[*]}):"; echo "$still"; } | tee -a "$OUT/summary.txt" >&2
  exit 3
fi

# --- Steps. Each writes its log under $OUT and one headline into $headline. ---
headline=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$work" "$headline"' EXIT
export headline work python

bin() { "$here/bin/$@"; }
export -f bin

step_machine() {
  {
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,power.limit --format=csv
    bin wavecast-bench --stages device
  } >>"$OUT/summary.txt" 2>&1
  local rc=$?
  bin wavecast-bench --stages device | "$python" -c '
import json, sys
d = json.loads(sys.stdin.read())
print(d["gpu"], "with", d["sm_count"], "SMs, compute capability", d["cc"])' >"$headline" 2>/dev/null
  return $rc
}

step_tests() {
  local suites failed=0 n=0 suite
  suites=$(bin gpu_tests --gtest_list_tests | awk '/^[A-Za-z0-9_]+\.$/ {sub(/\.$/, ""); print}')
  for suite in $suites; do
    n=$((n + 1))
    echo "===== $suite" >>"$OUT/tests.log"
    timeout -k 5 100 "$here/bin/gpu_tests" --gtest_filter="$suite.*${WAVECAST_BUNDLE_SKIP_TESTS:+-$WAVECAST_BUNDLE_SKIP_TESTS}" \
      >>"$OUT/tests.log" 2>&1 || { failed=$((failed + 1)); echo "===== $suite FAILED ($?)" >>"$OUT/tests.log"; }
  done
  echo "$((n - failed))/$n suites passed" >"$headline"
  [ "$failed" -eq 0 ]
}

step_sanitizer() {
  local tool filter rc=0 line=""
  for tool in memcheck racecheck synccheck; do
    filter='MaskingGpu.ThresholdKernelMatchesTheCpuOnRandomSpectra:GeneratorCuda.TinyShapeRunsClean:GeneratorCluster.TinyShapeRunsClean:GeneratorTensor.TinyShapeRunsClean:ConditioningCudnn.MatchesCpuSmall'
    [ "$tool" = memcheck ] && filter="$filter:MaskingGpu.StageMatchesTheCpuOnRandomAudio"
    echo "===== compute-sanitizer --tool $tool ($filter)" >>"$OUT/tests.log"
    timeout -k 5 60 compute-sanitizer --tool "$tool" --error-exitcode 9 "$here/bin/gpu_tests" --gtest_filter="$filter" >>"$OUT/tests.log" 2>&1
    local r=$?
    line="$line $tool=$([ $r -eq 0 ] && echo clean || echo "rc$r")"
    [ $r -eq 0 ] || rc=$r
  done
  echo "${line# }" >"$headline"
  return $rc
}

step_bench() {
  local b="$here/bin/wavecast-bench" f="$OUT/bench.jsonl" rc=0
  local gen=(--backend cuda --stages generator --frames-per-call 32 --seconds 0.25 --repeats 3)
  # In order of value, each bounded: the headline (nv-wavenet's medium shape, half precision, batch
  # 1 to 256, and the shipped shapes), masking, conditioning, then fp32 and bf16 and the other shapes.
  timeout -k 5 50 "$b" "${gen[@]}" --precision fp16 --shapes R64-S128-A256-L20 medium small --batches 1 8 64 256 >>"$f" 2>>"$OUT/tests.log" || rc=$?
  timeout -k 5 20 "$b" --backend cuda --stages masking --masking-streams 1 16 64 256 --repeats 3 >>"$f" 2>>"$OUT/tests.log" || rc=$?
  timeout -k 5 20 "$b" --backend cuda --stages conditioning --frames-per-call 32 --repeats 3 --shapes small medium --batches 1 8 64 256 \
    >>"$f" 2>>"$OUT/tests.log" || rc=$?
  timeout -k 5 30 "$b" "${gen[@]}" --precision fp32 --shapes R64-S128-A256-L20 small --batches 1 64 256 >>"$f" 2>>"$OUT/tests.log" || rc=$?
  timeout -k 5 15 "$b" "${gen[@]}" --precision bf16 --shapes R64-S128-A256-L20 --batches 1 256 >>"$f" 2>>"$OUT/tests.log" || rc=$?
  timeout -k 5 20 "$b" "${gen[@]}" --precision fp16 --shapes R32-S128-A256-L16 R64-S256-A256-L30 R128-S256-A256-L20 --batches 1 64 \
    >>"$f" 2>>"$OUT/tests.log" || rc=$?
  # The generic kernel beside the cluster one, at the headline shape; the tensor kernel for many
  # lanes (issue 23 asks 4.8 M samples/s in all).
  timeout -k 5 25 "$b" "${gen[@]}" --cuda-kernel generic --precision fp16 --shapes R64-S128-A256-L20 --batches 1 256 >>"$f" 2>>"$OUT/tests.log" || rc=$?
  timeout -k 5 40 "$b" "${gen[@]}" --cuda-kernel tensor --precision fp16 --shapes R64-S128-A256-L20 --batches 64 256 1024 4096 \
    >>"$f" 2>>"$OUT/tests.log" || rc=$?
  "$python" - "$f" >"$headline" 2>/dev/null <<'EOF'
import json, sys
gen, mask, tensor = {}, {}, 0
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("stage") == "generator" and d.get("model") == "R64-S128-A256-L20" and d.get("excitation_harmonics") == 0 \
            and "generic" not in d.get("kernel", ""):
        gen[(d["precision"], d["batch"])] = d
    if d.get("stage") == "generator" and d.get("model") == "R64-S128-A256-L20" and "tensor" in d.get("kernel", ""):
        tensor = max(tensor, d["samples_per_s_total"]) if tensor else d["samples_per_s_total"]
    if d.get("stage") == "masking":
        mask[d["streams"]] = d
parts = [f"R64-S128 {p} b{b}: {gen[(p, b)]['samples_per_s_per_lane']:,.0f}/s a lane, {gen[(p, b)]['samples_per_s_total']:,.0f}/s in all"
         for p, b in (("fp16", 1), ("fp16", 256)) if (p, b) in gen]
if tensor:
    parts.append(f"tensor kernel at most {tensor:,.0f}/s in all")
if 1 in mask:
    parts.append(f"masking {mask[1]['realtime_factor_per_stream']:,.0f}x real time a stream")
print("; ".join(parts) or "no figures")
EOF
  return $rc
}

# A config of N streams on the private server, control on an ipc path; batch_streams as $2.
streams_config() {
  local n=$1 batch=$2 i styles=(ambient techno house lofi dnb jazz_trio solo_piano cinematic)
  cat <<EOF
[daemon]
backend = "$backend"
batch_streams = "$batch"
precision = "fp16"
control = "ipc://$work/control-$n"
telemetry = "ipc://$work/telemetry-$n"
models = "$here/models"
styles = "$here/config/styles"
recordings = "$work"
log_level = "warn"
[jack]
client_name = "wavecast$n"
server = "wavecast-gpu"
EOF
  for ((i = 0; i < n; i++)); do
    printf '[[stream]]\nname = "s%d"\nstyle = "%s"\nseed = %d\n' "$i" "${styles[i % 8]}" "$((i + 1))"
  done
}

# One daemon of N streams (batch_streams BATCH, EXTRA one more [daemon] line) for SECONDS on the
# private jackd; its status in $work/status-TAG.json and a headline on stdout.
run_streams() {
  local n=$1 batch=$2 extra=$3 seconds=$4 tag=$5 log="$OUT/daemon.log"
  streams_config "$n" "$batch" | awk -v x="$extra" '/^\[jack\]/ && x != "" {print x} {print}' >"$work/streams-$tag.toml"
  echo "===== $n stream(s), batch_streams $batch${extra:+, $extra}, $seconds s" >>"$log"
  "$here/bin/wavecastd" --config "$work/streams-$tag.toml" >>"$log" 2>&1 &
  local d=$! ready=0
  for _ in $(seq 120); do
    if bin wavecast --endpoint "ipc://$work/control-$n" --timeout 500 --retries 1 status >/dev/null 2>&1; then ready=1; break; fi
    kill -0 $d 2>/dev/null || break
    sleep 0.5
  done
  if [ $ready = 0 ]; then echo "daemon with $n streams did not come up" | tee -a "$log"; kill $d 2>/dev/null; wait $d; return 1; fi
  [ "$n" = 1 ] && bin wavecast --endpoint "ipc://$work/control-$n" --stream s0 record take.wav --seconds 10 >>"$log" 2>&1
  sleep "$seconds"
  bin wavecast --endpoint "ipc://$work/control-$n" --json status >"$work/status-$tag.json" 2>>"$log"
  cat "$work/status-$tag.json" >>"$log"
  kill -TERM $d; wait $d
  "$python" - "$work/status-$tag.json" "$n" "$batch${extra:+, $extra}" <<'EOF' 2>/dev/null || echo "$n: no status"
import json, statistics, sys
s = json.load(open(sys.argv[1]))
st = s["streams"]
rtf = [x["rtf"] for x in st]
rec = st[0]["recording"]["last"] if sys.argv[2] == "1" else ""
print(f"{sys.argv[2]} stream(s) (batch {sys.argv[3]}): rtf {min(rtf):.2f} at least, {statistics.median(rtf):.2f} median, "
      f"{sum(x['underruns'] for x in st)} underruns, generator on {','.join(sorted({x['backend'] for x in st}))}, "
      f"masking on {','.join(sorted({x['masking']['backend'] for x in st}))}" + (f", recorded {rec}" if rec else ""))
EOF
}

step_daemon() {
  local log="$OUT/daemon.log" rc=0 t0 t1 seconds=$render_seconds
  {
    echo "===== render $seconds s on $backend"
    t0=$(date +%s.%N)
    timeout -k 5 60 "$here/bin/wavecastd" --config "$here/config/wavecastd.toml" --backend "$backend" render --style techno \
      --seconds $seconds --out "$work/render.wav" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    echo "render: rc $rc, $(awk -v s=$seconds -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", s / (b - a)}')x real time"
  } >>"$log"
  local heads="render $(tail -1 "$log" | sed 's/.*, //')"
  "$here/bin/jackd" -n wavecast-gpu -d dummy -r 48000 -p 1024 >>"$log" 2>&1 &
  local jack=$!
  for _ in $(seq 50); do "$here/bin/jack_lsp" -s wavecast-gpu >/dev/null 2>&1 && break; sleep 0.1; done
  # The streams share one generator (batch_streams auto, on CUDA); 16 once more each on its own.
  local run n batch head failed=""
  for run in 1:auto 16:auto 64:auto 16:off; do
    n=${run%:*} batch=${run#*:}
    head=$(run_streams "$n" "$batch" "" "$stream_seconds" "$n-$batch") || rc=1
    heads="$heads; $head"
    [[ $head == *"on cpu"* ]] && [ -z "$failed" ] && failed="$n:$batch"
  done
  # A stage that fell back to the CPU met a CUDA error. Bisect at once: the same streams with
  # masking on the CPU (does the generator alone run clean?), then the failing variant under
  # memcheck with launches made blocking, which names the kernel and the address of the first faults.
  if [ -n "$failed" ]; then
    n=${failed%:*} batch=${failed#*:}
    head=$(run_streams "$n" "$batch" 'masking = "cpu"' 15 "bisect") || true
    heads="$heads; bisect, masking on the CPU: $head"
    local culprit=masking extra=""
    if [[ $head == *"generator on cpu"* ]]; then
      culprit=generator extra='masking = "cpu"'
    fi
    heads="$heads; the fault follows the $culprit"
    if command -v compute-sanitizer >/dev/null; then
      streams_config "$n" "$batch" | awk -v x="$extra" '/^\[jack\]/ && x != "" {print x} {print}' >"$work/streams-memcheck.toml"
      echo "===== $n streams ($culprit on CUDA) under compute-sanitizer memcheck, CUDA_LAUNCH_BLOCKING=1" >>"$log"
      CUDA_LAUNCH_BLOCKING=1 timeout -k 5 45 compute-sanitizer --tool memcheck --print-limit 8 "$here/bin/wavecastd" \
        --config "$work/streams-memcheck.toml" >>"$log" 2>&1
      heads="$heads; memcheck: $(grep -c '^========= Invalid' "$log") invalid accesses logged"
    fi
  fi
  kill $jack 2>/dev/null; wait $jack 2>/dev/null
  echo "$heads" >"$headline"
  return $rc
}

# The live profile on this backend: the shipped config/live.toml with this run's paths and a
# jackd of its own; the latency JSON in $OUT/latency.json, the daemon's status after it in the log.
step_latency() {
  local log="$OUT/latency.log" cfg="$work/live.toml" d ready=0
  sed -e "s|^backend = .*|backend = \"$backend\"|" -e "s|^control = .*|control = \"ipc://$work/control-live\"|" \
    -e "s|^telemetry = .*|telemetry = \"ipc://$work/telemetry-live\"|" -e "s|^models = .*|models = \"$here/models\"|" \
    -e "s|^styles = .*|styles = \"$here/config/styles\"|" -e "s|^recordings = .*|recordings = \"$work\"|" \
    -e "s|^server = .*|server = \"wavecast-live\"|" -e "s|^midi_map = \"mappings/|midi_map = \"$here/config/mappings/|" \
    "$here/config/live.toml" >"$cfg"
  "$here/bin/jackd" -n wavecast-live -d dummy -r 48000 -p 256 >>"$log" 2>&1 &
  local jack=$!
  for _ in $(seq 50); do "$here/bin/jack_lsp" -s wavecast-live >/dev/null 2>&1 && break; sleep 0.1; done
  "$here/bin/wavecastd" --config "$cfg" >>"$log" 2>&1 &
  d=$!
  for _ in $(seq 120); do
    if bin wavecast --endpoint "ipc://$work/control-live" --timeout 500 --retries 1 ping >/dev/null 2>&1; then ready=1; break; fi
    kill -0 $d 2>/dev/null || break
    sleep 0.5
  done
  if [ $ready = 0 ]; then echo "the live profile's daemon did not come up" | tee -a "$headline"; kill $d $jack 2>/dev/null; wait; return 1; fi
  sleep 2  # the loudness stage settles its gain
  bin wavecast-latency --server wavecast-live --client wavecast --surface midi --changes 200 --every-ms 250 --cc 73 --low-db -24 \
    --high-db 6 >"$OUT/latency.json" 2>>"$log"
  local rc=$?
  bin wavecast --endpoint "ipc://$work/control-live" --json status >"$work/status-live.json" 2>>"$log"
  cat "$work/status-live.json" >>"$log"
  kill -TERM $d; wait $d; kill $jack; wait $jack 2>/dev/null
  "$python" - "$OUT/latency.json" "$work/status-live.json" <<'PY' >"$headline" 2>/dev/null || echo "latency: no figures (rc $rc)" >"$headline"
import json, sys
l, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
st = s["streams"][0]
print(f"MIDI CC to main_out_L: median {l['median_ms']:.1f} ms, p95 {l['p95_ms']:.1f}, worst {l['worst_ms']:.1f} ({l['measured']} of "
      f"{l['changes']}); {st['underruns']} underruns, generator on {st['backend']}, model {s['model']['shape']}, rtf {st['rtf']:.2f}")
PY
  return $rc
}

step_train() {
  local seconds=$1 log="$OUT/train.log"
  if [ ! -e "$here/training/train.pack" ]; then echo "no training data in the bundle" >"$headline"; return 0; fi
  local minutes held=()
  # Loading the packs and exporting take the rest: a minute, with room.
  minutes=$(awk -v s="$seconds" 'BEGIN {printf "%.2f", (s - 60) / 60}')
  [ -e "$here/training/held.pack" ] && held=(--held-out "$here/training/held.pack")
  export WAVECAST_COMMIT=$(head -1 "$here/VERSION" | cut -d' ' -f2) PYTHONUNBUFFERED=1
  local pids=() shape
  for shape in small medium; do
    "$python" "$here/training/train.py" --data "$here/training/train.pack" "${held[@]}" --shape $shape \
      --init "$here/models/$shape.safetensors" --run "$work/run-$shape" --minutes "$minutes" --batch 32 --frames 24 \
      --input-noise 12 --silent-past 0.3 --warped-past 0.4 --past-lag-ms 150 --lr 6e-4 --lr-final 2e-4 --threads 4 \
      --checkpoint-minutes 100 --export "$OUT/$shape.safetensors" >"$work/train-$shape.log" 2>&1 &
    pids+=($!)
  done
  local rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  for shape in small medium; do
    { echo "===== $shape"; cat "$work/train-$shape.log"; echo "----- loss.tsv"; cat "$work/run-$shape/loss.tsv" 2>/dev/null; } >>"$log"
  done
  grep -h "^train: .* steps, " "$work"/train-*.log | sed 's/train: //; s/;.*//' | paste -sd';' >"$headline"
  return $rc
}
export -f step_machine step_tests step_sanitizer step_bench streams_config run_streams step_daemon step_latency step_train

# What each step needs: the bundle's own files (a dry run fails without them) and the GPU
# machine's tools (named when absent, as they are on a machine without a GPU).
needs() {
  case $1 in
    machine) echo "machine:nvidia-smi bin/wavecast-bench" ;;
    tests) echo "bin/gpu_tests" ;;
    sanitizer) echo "machine:compute-sanitizer bin/gpu_tests" ;;
    bench) echo "bin/wavecast-bench" ;;
    daemon) echo "bin/wavecastd bin/wavecast bin/jackd bin/jack_lsp lib/jack/jack_dummy.so config/wavecastd.toml models/medium.safetensors" ;;
    latency) echo "bin/wavecastd bin/wavecast bin/wavecast-latency bin/jackd bin/jack_lsp lib/jack/jack_dummy.so config/live.toml models/medium.safetensors" ;;
    train) echo "training/train.py" ;;
  esac
}

train_least=120
# name, its own timeout, the least it is worth starting with (train: what is left)
plan=("machine 15 5" "tests 150 60" "sanitizer 120 30" "bench 170 40" "daemon 240 120" "latency 90 75" "train 0 $train_least")
reserve=10  # for the summary after the last step
for entry in "${plan[@]}"; do
  read -r name own least <<<"$entry"
  if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then continue; fi
  avail=$(( $(left) - reserve ))
  # The train step's share is kept from the steps before it: a short budget (300 s) still trains
  # for train_least seconds, where there is data to train on.
  if [ "$name" != train ] && [ -e "$here/training/train.pack" ] && { [ ${#only[@]} -eq 0 ] || [[ " ${only[*]} " == *" train "* ]]; }; then
    avail=$(( avail - train_least ))
  fi
  t=$own
  [ "$name" = train ] && t=$avail
  [ "$t" -gt "$avail" ] && t=$avail
  if [ "$t" -lt "$least" ]; then summary+=("$name|-|0|skipped: ${avail}s left, needs ${least}s"); continue; fi
  if [ $dry = 1 ]; then
    miss="" absent=""
    for n in $(needs "$name"); do
      case $n in
        machine:*) command -v "${n#machine:}" >/dev/null || absent="$absent ${n#machine:}" ;;
        */*) [ -e "$here/$n" ] || miss="$miss $n" ;;
      esac
    done
    [ "$name" = train ] && [ -z "$python" ] && miss="$miss python3-with-torch"
    summary+=("$name|dry|0|would run up to ${t}s${miss:+; MISSING:$miss}${absent:+; tools of the GPU machine, absent here:$absent}")
    [ -z "$miss" ] || dry_missing=1
    start=$((start - t))  # as if it used all of its time: the next steps see the budget it would leave
    continue
  fi
  : >"$headline"
  t0=$(date +%s)
  if [ "$name" = train ]; then timeout -k 10 "$t" bash -c "step_train $t"; else timeout -k 5 "$t" bash -c "step_$name"; fi
  rc=$?
  [ $rc = 124 ] && echo "(stopped at its ${t}s limit)" >>"$headline"
  summary+=("$name|$rc|$(( $(date +%s) - t0 ))|$(paste -sd' ' "$headline")")
done

{
  printf '\n%-10s %5s %5s  %s\n' step rc s headline
  for row in "${summary[@]}"; do IFS='|' read -r n r s h <<<"$row"; printf '%-10s %5s %5s  %s\n' "$n" "$r" "$s" "$h"; done
  echo "total $(( $(date +%s) - start ))s of a ${budget}s budget; logs in $OUT"
} | tee -a "$OUT/summary.txt"
[ "${dry_missing:-0}" = 0 ]
