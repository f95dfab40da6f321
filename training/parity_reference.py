#!/usr/bin/python3
"""Writes a model with seeded random weights and, for a fixed random input sequence, the output
distributions PyTorch computes for it (teacher-forced, in float64), for the C++ parity test
(tests/integration/parity_test.cpp) to hold the CPU reference against.

    training/parity_reference.py --shape small --seed 1 --frames 12 --lanes 3 --out DIR
writes DIR/model.safetensors (the network, float32 as the engine reads it) and
DIR/reference.safetensors: features [frames, lanes, 258], instruments [lanes, N],
inputs [lanes, T] (classes, as float), probs [lanes, T, A].

With --widen-to SHAPE, model.safetensors is the random model widened to SHAPE (training/widen.py)
while probs stay the narrow model's: the widened file must play the same distributions."""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import wavenet  # noqa: E402
import widen  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="small", choices=sorted(wavenet.SHAPES))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--lanes", type=int, default=3)
    ap.add_argument("--widen-to", choices=sorted(wavenet.SHAPES))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    net = wavenet.WaveNet(wavenet.spec_for(a.shape))
    with torch.no_grad():  # a peaked output, so that the distributions are not nearly uniform
        net.out2.weight.mul_(4.0)
    path = os.path.join(a.out, "model.safetensors")
    net.save(path, {"weights": "parity test", "seed": a.seed}, random_weights=True)
    # The engine computes in float32 from the file's float32 weights: the reference starts there.
    net, _ = wavenet.WaveNet.load(path)
    if a.widen_to:
        widen.widen(net, wavenet.spec_for(a.widen_to), a.seed + 1).save(path, {"weights": "parity test, widened",
                                                                             "seed": a.seed}, random_weights=True)
    net = net.double()

    K, B, A, hop = a.frames, a.lanes, net.A, net.hop
    T, N = K * hop, len(net.spec["instruments"])
    features = np.zeros((K, B, wavenet.FEATURES), dtype=np.float32)
    for k in range(K):
        for b in range(B):
            for pitch in rng.integers(30, 90, size=2):
                features[k, b, pitch] = rng.integers(1, 128) / 127.0
                features[k, b, 128 + pitch] = float(rng.random() < 0.3)
            features[k, b, 256] = np.log1p(rng.random())
            features[k, b, 257] = 1.0
    instruments = rng.random((B, N)).astype(np.float32)
    instruments /= instruments.sum(axis=1, keepdims=True)
    inputs = rng.integers(0, A, size=(B, T))

    with torch.no_grad():
        feats = torch.from_numpy(features.transpose(1, 0, 2)).double()
        inst = torch.from_numpy(instruments).double().unsqueeze(1).expand(B, K, N)
        logits = net(torch.from_numpy(inputs), feats, inst)  # [B, T, A]
        probs = torch.softmax(logits, dim=2).numpy()
    safetensors_io.write(os.path.join(a.out, "reference.safetensors"),
                         {"features": features, "instruments": instruments, "inputs": inputs.astype(np.float32),
                          "probs": probs.astype(np.float32)},
                         {"shape": a.shape, "seed": a.seed, "torch": torch.__version__})


if __name__ == "__main__":
    main()
