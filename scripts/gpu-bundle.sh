#!/usr/bin/env bash
# Builds the GPU bundle: everything a lent GPU machine without our Debian packages needs to run
# every GPU check and a training burst with one command (DIR/run.sh; see the README's "On a GPU
# machine without our packages"). Run on a development machine with the CUDA toolkit.
#
#   scripts/gpu-bundle.sh [DIR]          default DIR: gpu-bundle/ (git-ignored, so `carry` takes it)
#
# DIR holds: bin/ (wavecastd, wavecast, wavecast-bench, wavecast-latency, gpu_tests, wavecast-model, jackd,
# jack_lsp; stripped), lib/ (the shared libraries they need beyond glibc and CUDA, with jackd's
# dummy driver in lib/jack), config/ with the styles, models/, training/ (the scripts, and the
# training data packed by training/pack.py from training/data/{train,held} where those exist),
# run.sh and VERSION. CUDA's own libraries (runtime, cuFFT, cuDNN) are the GPU machine's: they
# must match its driver. Built portable (no -march=native) for sm_90 (H100, H200).
# WAVECAST_BUNDLE_DATA_MIB (default 14) bounds the training data; the bundle is refused above
# 56 MiB, naming what is large. Where training/data has no train and held sets, they are made
# first with training/dataset.py (FluidSynth on this machine: about two minutes on two cores),
# so that a bundle from a clean checkout trains; WAVECAST_BUNDLE_MAKE_DATA=0 skips that (the
# test command's dry run, which needs no data).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/gpu-bundle}
build=$root/build-bundle
limit_mib=56
data_mib=${WAVECAST_BUNDLE_DATA_MIB:-14}

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWAVECAST_NATIVE=OFF -DWAVECAST_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build "$build" -j "$(nproc)" --target wavecastd wavecast wavecast-bench wavecast-latency gpu_tests wavecast-model

rm -rf "$out"
mkdir -p "$out"/{bin,lib/jack,models,training}
cp "$build/daemon/wavecastd" "$build/client/wavecast" "$build/benchmarks/wavecast-bench" "$build/benchmarks/wavecast-latency" "$build/tests/gpu_tests" \
   "$build/tools/wavecast-model" "$(command -v jackd)" "$(command -v jack_lsp)" "$out/bin/"
jack_drivers=$(dirname "$(dpkg -L jackd2 | grep '/jack_dummy.so$' | head -1)")
cp "$jack_drivers/jack_dummy.so" "$out/lib/jack/"
strip --strip-unneeded "$out"/bin/* "$out/lib/jack/jack_dummy.so"

# Every shared library the binaries load, but glibc's own (any machine has a compatible one) and
# CUDA's (the GPU machine's must match its driver).
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|libpthread\.|librt\.|libresolv\.|libcuda\.|libcudart\.|libcufft\.|libcudnn|libnvrtc|libcublas)'
for f in "$out"/bin/* "$out/lib/jack/jack_dummy.so"; do
  ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  if ! [[ $name =~ $skip ]]; then cp -L "$path" "$out/lib/$name"; fi
done
strip --strip-unneeded "$out"/lib/*.so* 2>/dev/null || true

cp -r "$root/config" "$out/config"
rm -f "$out/config/"*.service
cp "$root/models/small.safetensors" "$root/models/medium.safetensors" "$root/models/README.md" "$out/models/"
cp "$root"/training/*.py "$out/training/"
python=/usr/bin/python3
if [ "${WAVECAST_BUNDLE_MAKE_DATA:-1}" != 0 ]; then
  # The sets README's Training section makes, smaller: what 14 MiB of pack holds, and a held set.
  for spec in "train 1-4 60" "held 1000 30"; do
    read -r set seeds seconds <<<"$spec"
    if ! compgen -G "$root/training/data/$set/*.safetensors" >/dev/null; then
      echo "gpu-bundle: making training/data/$set (seeds $seeds, ${seconds} s items; a minute or two)"
      "$python" "$root/training/dataset.py" --out "$root/training/data/$set" --seeds "$seeds" --seconds "$seconds" \
        --wavecastd "$build/daemon/wavecastd"
    fi
  done
fi
for set in train held; do
  if compgen -G "$root/training/data/$set/*.safetensors" >/dev/null; then
    mib=$data_mib
    [ "$set" = held ] && mib=2
    "$python" "$root/training/pack.py" "$root/training/data/$set" --out "$out/training/$set.pack" --max-mib "$mib"
  else
    echo "gpu-bundle: no training/data/$set (training/dataset.py makes it): the bundle trains nothing"
  fi
done
cp "$root/scripts/gpu-bundle-run.sh" "$out/run.sh"
chmod +x "$out/run.sh"
{
  echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo '+changes')"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) with $(nvcc --version | tail -1), CUDA arch 90, portable (no -march=native)"
} >"$out/VERSION"

bytes=$(du -sb "$out" | cut -f1)
mib=$(( (bytes + 1048575) / 1048576 ))
if [ "$mib" -gt "$limit_mib" ]; then
  echo "gpu-bundle: $out is $mib MiB, over the $limit_mib MiB a lent machine takes; the largest:" >&2
  find "$out" -type f -printf '%s %P\n' | sort -rn | head -8 | awk '{printf "  %6.1f MiB  %s\n", $1 / 1048576, $2}' >&2
  exit 1
fi
echo "gpu-bundle: $out, $mib MiB ($(cat "$out/VERSION" | head -1))"
