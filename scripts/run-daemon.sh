#!/usr/bin/env bash
# README command 1: on a fresh Debian machine, installs what is needed, builds, and runs wavecastd
# streaming into JACK. If no JACK server answers, a dummy-backend jackd of our own is started
# (as the default server, so jack_lsp / jack_connect / jack_capture find it) and stopped on exit.
# Arguments are passed to wavecastd (e.g. --backend cpu, --config FILE); with --no-jack (a
# headless station: Icecast outputs and recordings only) no jackd is started or asked for.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh
# Only what runs (the daemon and the client), not the tests, with ninja's progress shown: the first
# build takes some minutes on two cores, and a silent one looked hung.
echo "run-daemon: building wavecastd and wavecast into build/ (the first build takes a few minutes)"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j "$(nproc)" --target wavecastd wavecast
# The default config plays the shipped models (models/small.safetensors on the CPU).

jack_pid=""
no_jack=false
for a in "$@"; do [ "$a" = "--no-jack" ] && no_jack=true; done
if $no_jack; then
  echo "run-daemon: --no-jack: the streams play by wavecastd's internal clock, no JACK server"
elif jack_lsp >/dev/null 2>&1; then
  echo "run-daemon: using the JACK server that is running"
else
  echo "run-daemon: no JACK server answers; starting jackd -d dummy (48 kHz, 1024 frames), log in build/jackd.log"
  # Realtime where allowed (jackd says so in its log and goes on without where it is not), so
  # that the generator's threads cannot delay JACK's cycle.
  jackd -d dummy -r 48000 -p 1024 >build/jackd.log 2>&1 &
  jack_pid=$!
  for _ in $(seq 50); do jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done
fi

build/daemon/wavecastd "$@" &
daemon_pid=$!
trap 'kill -TERM "$daemon_pid" 2>/dev/null || true' INT TERM
status=0
wait "$daemon_pid" || status=$?
# wait returns early when a trapped signal arrives: wait again for the daemon's own exit.
if kill -0 "$daemon_pid" 2>/dev/null; then wait "$daemon_pid" || status=$?; fi
if [ -n "$jack_pid" ]; then kill "$jack_pid" 2>/dev/null || true; wait "$jack_pid" 2>/dev/null || true; fi
exit "$status"
