#!/usr/bin/python3
"""Writes a wider, deeper model that computes exactly what a trained narrower one does, for
training to go on from there (Net2Net's function-preserving growth, in its zero-output form).

    training/widen.py models/small.safetensors --shape medium --out medium-start.safetensors

The narrow model's channels become the first channels of each kind (residual R, skip S,
conditioning hidden H; a layer's filter rows and gate rows each keep their first rows) and its
layers the first layers. What is new starts with the default random weights into it, so that it
computes something from the first step, and zero weights out of it into anything the narrow model
had: new residual channels and new hidden channels reach no old unit, new units reach no old
residual or skip channel, new skip channels reach the head with zero weights. (From the narrow
model's last layer on, the residual stream feeds only new units, so the residual outputs there
keep their random weights.) The output distributions are then the narrow model's (the parity test
holds the engine to that, and each of those zeros is needed for it), and each zero weight has a
gradient within a few steps, so training can bring the new capacity in.

Both shapes must agree on everything but R, S, H and L (the dilation cycle, the classes, the
rates, the features, the instrument table, the excitation); the wide one is at least as large in
each of those four."""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wavenet  # noqa: E402

GROWN = ("residual_channels", "skip_channels", "cond_hidden", "layers")


def shape_name(spec):
    return "R{residual_channels}-S{skip_channels}-A{audio_classes}-L{layers}".format(**spec)


def widen(narrow, wide_spec, seed):
    ns = narrow.spec
    # The grown model plays what the narrow one does, in its output domain too.
    wide_spec = dict(wide_spec, pre_emphasis=ns.get("pre_emphasis", 0.0))
    for k in set(ns) | set(wide_spec):
        if k not in GROWN and k != "provenance" and ns.get(k) != wide_spec.get(k):
            raise ValueError(f"the shapes differ in {k} ({ns.get(k)!r} and {wide_spec.get(k)!r}): only {', '.join(GROWN)} may grow")
    for k in GROWN:
        if wide_spec[k] < ns[k]:
            raise ValueError(f"{k}: {wide_spec[k]} is narrower than {ns[k]}")
    torch.manual_seed(seed)
    wide = wavenet.WaveNet(wide_spec)
    t, s = wide.tensors(), narrow.tensors()
    Rn, Sn, Hn, Ln = (ns[k] for k in GROWN)
    Rw, Sw, Hw, Lw = (wide_spec[k] for k in GROWN)
    old_x, new_x = np.arange(Rn), np.arange(Rn, Rw)
    old_s, new_s = np.arange(Sn), np.arange(Sn, Sw)
    old_h, new_h = np.arange(Hn), np.arange(Hn, Hw)
    old_z = np.concatenate([old_x, Rw + old_x])  # a layer's filter rows, then its gate rows
    old_c = np.concatenate([l * 2 * Rw + old_z for l in range(Ln)])  # the old layers' rows of the conditioning

    def put(name, src, *rows):
        idx = [r if r is not None else np.arange(t[name].shape[i]) for i, r in enumerate(rows)]
        idx += [np.arange(n) for n in t[name].shape[len(rows):]]
        t[name][np.ix_(*idx)] = s[src] if isinstance(src, str) else src

    put("embed", "embed", None, old_x)
    put("instrument_embed", "instrument_embed")
    put("cond.conv.weight", "cond.conv.weight", old_h)
    put("cond.conv.bias", "cond.conv.bias", old_h)
    put("cond.proj.weight", "cond.proj.weight", old_c, old_h)
    put("cond.proj.weight", 0.0, old_c, new_h)
    put("cond.proj.bias", "cond.proj.bias", old_c)
    if wide.K:
        put("excitation.weight", "excitation.weight", old_c)
        put("excitation.input.weight", "excitation.input.weight", old_x)
    for l in range(Lw):
        p = f"layers.{l}."
        if l < Ln:
            put(p + "conv.weight", p + "conv.weight", old_z, old_x)
            put(p + "conv.weight", 0.0, old_z, new_x)
            put(p + "conv.bias", p + "conv.bias", old_z)
            put(p + "skip.weight", p + "skip.weight", old_s, old_x)
            put(p + "skip.weight", 0.0, old_s, new_x)
            put(p + "skip.bias", p + "skip.bias", old_s)
        else:
            put(p + "skip.weight", 0.0, old_s)
            put(p + "skip.bias", 0.0, old_s)
        if l + 1 < Ln:  # from the narrow model's last layer on, the residual reaches only new units
            put(p + "res.weight", p + "res.weight", old_x, old_x)
            put(p + "res.weight", 0.0, old_x, new_x)
            put(p + "res.bias", p + "res.bias", old_x)
    put("out1.weight", "out1.weight", None, old_s)
    put("out1.weight", 0.0, None, new_s)
    put("out1.bias", "out1.bias")
    put("out2.weight", "out2.weight")
    put("out2.bias", "out2.bias")
    with torch.no_grad():
        for name, value in t.items():
            param = wide._param(name)
            param.copy_(torch.from_numpy(value).reshape(param.shape))
    return wide


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="the narrow model file")
    ap.add_argument("--shape", default="medium", choices=sorted(wavenet.SHAPES))
    ap.add_argument("--seed", type=int, default=1, help="for the new weights")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    narrow, spec = wavenet.WaveNet.load(a.model)
    try:
        wide = widen(narrow, wavenet.spec_for(a.shape), a.seed)
    except ValueError as e:
        raise SystemExit(f"{a.model}: cannot widen to {a.shape}: {e}")
    prov = dict(spec.get("provenance", {}))
    prov.update(widened_from=os.path.abspath(a.model), widened_from_shape=shape_name(spec),
                widened_at_step=int(prov.get("steps", 0)), widen_seed=a.seed)
    wide.save(a.out, prov, random_weights=spec.get("weights") == "random")
    print(f"widen: {a.model} ({shape_name(spec)}) -> {a.out} ({shape_name(wide.spec)})")


if __name__ == "__main__":
    main()
