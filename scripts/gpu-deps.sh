#!/usr/bin/env bash
# Run here (not on the GPU machine, which reaches no package registry): downloads the few Debian
# packages the GPU-only build needs (headers, FFTW, GoogleTest, CLI11) and unpacks them into
# .gpudeps/, which `carry` takes along to the device. benchmarks/gpu_check.sh uses it there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p .git/info
grep -qx '/.gpudeps/' .git/info/exclude 2>/dev/null || echo '/.gpudeps/' >>.git/info/exclude
rm -rf .gpudeps && mkdir -p .gpudeps/debs
(cd .gpudeps/debs && apt-get download nlohmann-json3-dev libfftw3-dev libfftw3-single3 libgtest-dev libcli11-dev)
for deb in .gpudeps/debs/*.deb; do dpkg -x "$deb" .gpudeps/root; done
rm -rf .gpudeps/debs
du -sh .gpudeps
