#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) into build-fuzz/ and runs each for
# SECONDS (default 30) from its seed corpus in fuzz/corpus/. What a run finds is written to
# build-fuzz/findings/; fix it and add the input to fuzz/corpus/NAME/ as a regression case.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      targets: config style model midi control telemetry
# WAVECAST_FUZZ_SEED fixes libFuzzer's seed (the test command sets 1, so that a CI failure
# reproduces); unset or 0, each run explores anew.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config style model midi control telemetry)

CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWAVECAST_FUZZ=ON -DWAVECAST_TESTS=OFF -DWAVECAST_CUDA=OFF -DWAVECAST_NATIVE=OFF >/dev/null
cmake --build "$root/build-fuzz" -j "$(nproc)" --target $(printf '%s_fuzz ' "${targets[@]}")

mkdir -p "$root/build-fuzz/findings"
status=0
for t in "${targets[@]}"; do
  # New inputs go to a scratch corpus, so that the repository's seed corpus stays as committed.
  work="$root/build-fuzz/corpus/$t"
  mkdir -p "$work"
  echo "fuzz: $t for ${seconds}s"
  if ! "$root/build-fuzz/fuzz/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -seed="${WAVECAST_FUZZ_SEED:-0}" -artifact_prefix="$root/build-fuzz/findings/$t-" "$work" "$root/fuzz/corpus/$t" \
      > "$root/build-fuzz/$t.log" 2>&1; then
    echo "fuzz: $t FOUND A FAILURE (see build-fuzz/$t.log and build-fuzz/findings/)"
    tail -40 "$root/build-fuzz/$t.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$root/build-fuzz/$t.log" | tail -2
  fi
done
exit $status
