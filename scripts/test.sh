#!/usr/bin/env bash
# README command 2: on a fresh Debian machine, installs what is needed, builds, and runs every
# test (unit, integration against a real jackd, and the gpu-labelled ones, which skip visibly
# where no GPU is present).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure --timeout 600 "$@"
