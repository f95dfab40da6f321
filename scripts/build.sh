#!/usr/bin/env bash
# Configures and builds wavecast into build/ (Release). CUDA is built when a toolkit is found.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$root/build" -j "$(nproc)"
