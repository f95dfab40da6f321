#!/usr/bin/env bash
# The share of STFT bins the masking stage removes at masking_db = 0 on each style's music, as the
# stream runs it: rendered at the model's rate with masking bypassed, then masked by
# `wavecastd mask`. Prints one JSON line per style. Usage: benchmarks/masking_by_style.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for style_file in "$root"/config/styles/*.toml; do
  style=$(basename "$style_file" .toml)
  "$root/build/daemon/wavecastd" --backend cpu render --style "$style" --seconds "$seconds" --masking-db -100 \
    --out "$tmp/$style.wav" >/dev/null
  line=$("$root/build/daemon/wavecastd" mask "$tmp/$style.wav" "$tmp/$style-masked.wav" --strength 0)
  share=$(sed -n 's/.*strength 0.0 dB, \([0-9.]*\)% of bins removed.*/\1/p' <<<"$line")
  pe=$(sed -n 's/.*perceptual entropy \([0-9.]*\) bits.*/\1/p' <<<"$line")
  printf '{"stage":"masking","style":"%s","masking_db":0,"seconds":%s,"discarded_percent":%s,"perceptual_entropy_bits_per_frame":%s}\n' \
    "$style" "$seconds" "$share" "$pe"
done
