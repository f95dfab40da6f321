#!/usr/bin/env bash
# The share of STFT bins the masking stage removes at masking_db = 0 on each style's music, as the
# stream runs it: the held-out composer score (seed 1000) rendered by the model at its rate with
# masking bypassed, then masked by `wavecastd mask`. Where training/dataset.py's held-out items
# are at hand (training/data/held), the same score rendered by FluidSynth is masked too, at the
# model render's level: what the stage removes from the music itself, against what it removes
# from the model's noise. One JSON line per style and source.
# Usage: benchmarks/masking_by_style.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
seed=1000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
measure() {  # style source wav
  local line share pe
  line=$("$root/build/daemon/wavecastd" mask "$3" "$tmp/masked.wav" --strength 0)
  share=$(sed -n 's/.*strength 0.0 dB, \([0-9.]*\)% of bins removed.*/\1/p' <<<"$line")
  pe=$(sed -n 's/.*perceptual entropy \([0-9.]*\) bits.*/\1/p' <<<"$line")
  printf '{"stage":"masking","style":"%s","source":"%s","seed":%s,"masking_db":0,"seconds":%s,"discarded_percent":%s,"perceptual_entropy_bits_per_frame":%s}\n' \
    "$1" "$2" "$seed" "$seconds" "$share" "$pe"
}
for style_file in "$root"/config/styles/*.toml; do
  style=$(basename "$style_file" .toml)
  "$root/build/daemon/wavecastd" --backend cpu render --style "$style" --seconds "$seconds" --seed "$seed" \
    --masking-db -100 --out "$tmp/$style.wav" >/dev/null
  measure "$style" model "$tmp/$style.wav"
  for item in "$root"/training/data/held/"$style-$seed"-*.safetensors; do
    [ -e "$item" ] || continue
    "$root/benchmarks/fluidsynth_mix.py" "$item" "$tmp/$style.wav" "$tmp/$style-fluidsynth.wav"
    measure "$style" fluidsynth "$tmp/$style-fluidsynth.wav"
  done
done
