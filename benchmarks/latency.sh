#!/usr/bin/env bash
# A change's latency from each control surface to the JACK output (benchmarks/latency.cpp), for a
# config, on a dummy jackd of its own: MIDI CC, OSC and ZeroMQ `set`, each a step of gain_db
# (CC 73 of the shipped 8-knob mapping, -24 to +6 dB). One JSON line a surface, and the daemon's
# status at the end (underruns included) as the last line. With --style-every-s, a style change
# that often besides (round the shipped styles): a performer's hands over a long run.
#
#   benchmarks/latency.sh [--config config/live.toml] [--changes 200] [--every-ms 250] [--period 256]
#                         [--surfaces "midi osc zeromq"] [--style-every-s 0] [--build build] [--keep-logs DIR]
#   benchmarks/latency.sh --surfaces midi --changes 6000 --every-ms 100 --style-every-s 30   # 10 minutes
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
config=$root/config/live.toml changes=200 period=256 build=$root/build every_ms=250 surfaces="midi osc zeromq" style_every_s=0 keep=""
while [ $# -gt 0 ]; do
  case $1 in
    --config) config=$2; shift 2 ;;
    --changes) changes=$2; shift 2 ;;
    --period) period=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --every-ms) every_ms=$2; shift 2 ;;
    --surfaces) surfaces=$2; shift 2 ;;
    --style-every-s) style_every_s=$2; shift 2 ;;
    --keep-logs) keep=$2; shift 2 ;;  # the daemon's, jackd's and the style changes' logs (when an underrun came)
    *) echo "latency.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
tmp=$(mktemp -d /tmp/wavecast-latency-XXXXXX)
server=wavecast-latency-$$
osc_port=$((20000 + $$ % 20000))
export JACK_NO_AUDIO_RESERVATION=1
# The config as given, but on this run's jackd, endpoints and OSC port, with the 8-knob mapping.
sed -e "s|^control = .*|control = \"ipc://$tmp/control\"|" -e "s|^telemetry = .*|telemetry = \"ipc://$tmp/telemetry\"|" \
    -e "s|^server = .*|server = \"$server\"|" -e "s|^client_name = .*|client_name = \"wavecast-lat\"|" \
    -e "s|^recordings = .*|recordings = \"$tmp\"|" "$config" >"$tmp/config.toml"
grep -q '^midi_map' "$tmp/config.toml" || sed -i "/^lookahead_ms/a midi_map = \"$root/config/mappings/generic-8knob.toml\"" "$tmp/config.toml"
sed -i "s|^midi_map = \"mappings/|midi_map = \"$root/config/mappings/|" "$tmp/config.toml"
sed -i "/^\[daemon\]/a osc = \"127.0.0.1:$osc_port\"" "$tmp/config.toml"
sed -i "s|^models = .*|models = \"$root/models\"|; s|^styles = .*|styles = \"$root/config/styles\"|" "$tmp/config.toml"

jackd -n "$server" -d dummy -r 48000 -p "$period" >"$tmp/jackd.log" 2>&1 &
jack=$!
trap 'kill $styles $daemon $jack 2>/dev/null; wait 2>/dev/null; [ -z "$keep" ] || { mkdir -p "$keep" && cp "$tmp"/*.log "$keep"/; }; rm -rf "$tmp"' EXIT
daemon="" styles=""
for _ in $(seq 50); do JACK_DEFAULT_SERVER=$server jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done
JACK_DEFAULT_SERVER=$server "$build/daemon/wavecastd" --config "$tmp/config.toml" >"$tmp/wavecastd.log" 2>&1 &
daemon=$!
for _ in $(seq 120); do
  "$build/client/wavecast" --endpoint "ipc://$tmp/control" --timeout 500 --retries 1 ping >/dev/null 2>&1 && break
  kill -0 $daemon 2>/dev/null || { cat "$tmp/wavecastd.log" >&2; exit 1; }
  sleep 0.25
done
sleep 2  # the loudness stage settles its gain
if [ "$style_every_s" != 0 ]; then
  (while :; do
     for style in lofi house ambient techno jazz_trio; do
       sleep "$style_every_s"
       "$build/client/wavecast" --endpoint "ipc://$tmp/control" style "$style" >/dev/null
       echo "$(date -u +%FT%T.%3N) style $style" >>"$tmp/styles.log"
     done
   done) &
  styles=$!
fi
for surface in $surfaces; do
  "$build/benchmarks/wavecast-latency" --server "$server" --client wavecast-lat --surface "$surface" --changes "$changes" \
    --every-ms "$every_ms" --cc 73 --low-db -24 --high-db 6 --osc "127.0.0.1:$osc_port" --endpoint "ipc://$tmp/control" |
    /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); d.pop('latencies_ms'); d['config']='$(basename "$config")'; d['period']=$period; print(json.dumps(d))"
done
"$build/client/wavecast" --endpoint "ipc://$tmp/control" --json status |
  /usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); s=r['streams'][0]; print(json.dumps({'underruns': s['underruns'], 'xruns': s['xruns'], 'rtf': round(s['rtf'], 2), 'producer_priority': s['producer_priority'], 'jack_realtime': r['jack']['realtime'], 'latency': s['latency'], 'midi_wake_ms': r['midi']['wake_ms']}))"
