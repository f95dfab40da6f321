#!/usr/bin/env bash
# README command 2: on a fresh Debian machine, installs what is needed, builds, and runs every
# test (unit, integration against a real jackd, the two-minute soak, and the gpu-labelled ones,
# which skip visibly where no GPU is present), the GPU bundle built and dry-run (where a CUDA
# toolkit is), then a bounded run of each fuzz target.
# Arguments go to ctest; WAVECAST_FUZZ_SECONDS (default 20, 0 to skip) bounds each fuzz target.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
(cd "$root/build" && ctest --output-on-failure --timeout 600 "$@")
# The GPU bundle (README: "On a GPU machine without our packages") must not rot between GPU runs:
# built and dry-run wherever a CUDA toolkit is, which checks that every step's programs and
# libraries are there and that the budget and summary work.
if [ -x /usr/local/cuda/bin/nvcc ] || command -v nvcc >/dev/null; then
  WAVECAST_BUNDLE_MAKE_DATA=0 "$root/scripts/gpu-bundle.sh" "$root/build/gpu-bundle"
  OUT="$root/build/gpu-out" "$root/build/gpu-bundle/run.sh" --dry-run
fi
fuzz_seconds=${WAVECAST_FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" -gt 0 ]; then WAVECAST_FUZZ_SEED=${WAVECAST_FUZZ_SEED:-1} "$root/scripts/fuzz.sh" "$fuzz_seconds"; fi
