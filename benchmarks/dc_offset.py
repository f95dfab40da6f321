#!/usr/bin/python3
"""DC and silence in what each style's stream plays: for every shipped style, `wavecastd render`
(the stream's own chain and the config's parameters, one seed) of N seconds, and per channel:

  mean: the whole render's mean (DC, full scale 1.0);
  worst_window_dc: the largest |mean| of any 1 s window (hop 0.25 s), after the first second;
  dc_dbfs: that, in dBFS;
  worst_window_dc_hann: the same with each window's mean weighted by a Hann window.

The sound issue's target is worst_window_dc <= 0.001 (-60 dBFS) for every style. A plain 1 s
mean is not only DC: a tone of amplitude A at f Hz that does not fit the window a whole number of
times leaks up to A / (pi f) into it (a 0.3 kick at 50 Hz: 0.002), so loud bass alone can break
it; FluidSynth's renders of the same scores do (see RESULTS). The Hann-weighted mean leaks far
less (its sidelobes fall 18 dB an octave) and says what DC there is.

    benchmarks/dc_offset.py [--seconds 10] [--seed 13] [--styles ambient,techno] [--json out.json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import scipy.io.wavfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STYLES = ["ambient", "cinematic", "dnb", "house", "jazz_trio", "lofi", "solo_piano", "techno"]


def dc_figures(x, rate):
    """Per channel: the mean, and the worst 1 s window's |mean| after the first second."""
    out = []
    win, hop = rate, rate // 4
    hann = np.hanning(win)
    hann /= hann.sum()
    for ch in range(x.shape[1]):
        c = x[:, ch].astype(np.float64)
        starts = range(rate, len(c) - win + 1, hop)
        means = [abs(c[s:s + win].mean()) for s in starts]
        weighted = [abs(np.dot(c[s:s + win], hann)) for s in starts]
        worst = max(means) if means else float("nan")
        out.append({"mean": float(c.mean()), "worst_window_dc": float(worst),
                    "dc_dbfs": float(20 * np.log10(worst)) if worst > 0 else -200.0,
                    "worst_window_dc_hann": float(max(weighted)) if weighted else float("nan")})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wavecastd", default=os.path.join(ROOT, "build/daemon/wavecastd"))
    ap.add_argument("--config", default=os.path.join(ROOT, "config/wavecastd.toml"))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--styles", default=",".join(STYLES))
    ap.add_argument("--json")
    a = ap.parse_args()
    result = {"seconds": a.seconds, "seed": a.seed, "styles": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for style in a.styles.split(","):
            wav = os.path.join(tmp, style + ".wav")
            subprocess.run([a.wavecastd, "render", "--config", a.config, "--backend", "cpu", "--style", style, "--seconds",
                            str(a.seconds), "--seed", str(a.seed), "--bits", "24", "--out", wav], check=True, capture_output=True)
            rate, x = scipy.io.wavfile.read(wav)
            x = x.astype(np.float64) / (2 ** 31 if x.dtype == np.int32 else 2 ** 15)
            figures = dc_figures(x, rate)
            result["styles"][style] = {"left": figures[0], "right": figures[1]}
            print(f"{style:12s} " + "   ".join(f"{side} mean {f['mean']:+.5f} worst 1 s {f['worst_window_dc']:.5f} "
                                                f"(Hann {f['worst_window_dc_hann']:.5f})" for side, f in zip("LR", figures)),
                  file=sys.stderr)
    worst = max(max(s["left"]["worst_window_dc"], s["right"]["worst_window_dc"]) for s in result["styles"].values())
    result["worst_window_dc"] = worst
    result["worst_window_dc_hann"] = max(max(s["left"]["worst_window_dc_hann"], s["right"]["worst_window_dc_hann"])
                                         for s in result["styles"].values())
    result["target_met"] = bool(worst <= 0.001)
    print(json.dumps(result, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
