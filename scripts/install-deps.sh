#!/usr/bin/env bash
# Installs every Debian package wavecast builds, runs and tests with. Idempotent; needs root
# (or sudo). Training (training/) uses Debian's python3-torch, FluidSynth with the FluidR3 GM
# soundfont, and aubio for the quality figures; OpenBLAS, because Debian's torch otherwise
# multiplies with the reference BLAS, eight times slower. The CUDA toolkit is not installed here: it is used from /usr/local/cuda when present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  jackd2 libjack-jackd2-dev
  libzmq3-dev cppzmq-dev libsodium-dev
  libtomlplusplus-dev nlohmann-json3-dev
  libfmt-dev libspdlog-dev libcli11-dev
  libsndfile1-dev libsoxr-dev libfftw3-dev libebur128-dev libsystemd-dev
  libopusenc-dev libmp3lame-dev icecast2 libopusfile-dev libmpg123-dev liblo-dev liblo-tools
  libgtest-dev libgmock-dev
  ableton-link-dev
  python3 python3-mido python3-zmq python3-numpy
  python3-torch libopenblas0-pthread python3-scipy python3-tqdm fluidsynth fluid-soundfont-gm aubio-tools
  clang
)

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# jackd2 asks whether to enable realtime scheduling; the dummy backend needs no answer.
echo "jackd2 jackd/tweak_rt_limits boolean false" | $sudo debconf-set-selections
# icecast2 is the server the station tests start on loopback with configs of their own; its
# package's own setup (hostname, passwords) is left undone.
echo "icecast2 icecast2/icecast-setup boolean false" | $sudo debconf-set-selections
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
