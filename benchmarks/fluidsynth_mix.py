#!/usr/bin/python3
"""FluidSynth's render of a composer score, as training/dataset.py stored it lane by lane, mixed to
mono at the RMS level of another file (the model's render of the same score, which the stream's
loudness stage brought to its target), so that the masking stage meets both at one level: its
calibration (full-scale sine = 96 dB SPL) makes the threshold in quiet depend on it.

    benchmarks/fluidsynth_mix.py ITEM.safetensors LIKE.wav OUT.wav"""

import json
import os
import sys

import numpy as np
import scipy.io.wavfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "training"))
import safetensors_io  # noqa: E402


def rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__.split("\n\n")[1].strip())
    item, like, out = sys.argv[1:]
    tensors, meta = safetensors_io.read(item)
    rate = json.loads(meta["wavecast_export"])["sample_rate"]
    mix = np.asarray(tensors["audio"], dtype=np.float64).sum(axis=0)  # [lanes, samples]
    like_rate, y = scipy.io.wavfile.read(like)
    if y.dtype.kind == "i":
        y = y / float(np.iinfo(y.dtype).max + 1)
    if like_rate != rate:
        raise SystemExit(f"{like}: {like_rate} Hz, the item's is {rate}")
    if rms(mix) == 0 or rms(y) == 0:
        raise SystemExit(f"{item if rms(mix) == 0 else like}: silent, no level to match")
    mix *= rms(y) / rms(mix)
    # Float samples: its peaks may pass full scale at the level matched (the model's render went
    # through the true-peak limiter), and masking reads them as they are.
    scipy.io.wavfile.write(out, rate, mix.astype(np.float32))


if __name__ == "__main__":
    main()
