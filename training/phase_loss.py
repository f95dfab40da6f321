#!/usr/bin/python3
"""Where the network's loss is, by instrument and by note phase: teacher-forced cross-entropy
(nats a sample) of held-out melodies, split into attack (a note's first 100 ms), sustain (the rest
of the note), release (the 0.5 s after a note ends, unless the next begins) and silence (the
rest), fed

  true     FluidSynth's render of the melody, the past the network was trained on;
  noisy    the same with noise of 12 mu-law classes on the past (train.py --input-noise 12);
  warped   the same played up to a semitone off and up to 150 ms late (--warped-past, --past-lag-ms);
  silent   silence for the past (--silent-past);
  own      the network's own free-running output (`wavecastd export --play`, the config's
           sampling), scored against itself: how much it is surprised by what it plays, which is
           what its sampling adds wherever the true past's loss is low.

FluidSynth is deterministic, so a held note's next sample is all but fixed by its exact past:
the true past's sustain loss measures the model, not the music. Beside it, the prediction gain
(dB) of the network's expected sample, 10 log10(sum x^2 / sum (x - E[x])^2), and, on the same
true audio, a backward-adaptive order-16 LPC's (../shared/notes/prediction-gain.md's predictor);
and the mean of the expected sample beside the audio's, in each phase: the network's own DC
offset, at its source (in the model's domain, before the engine's DC blocker).

Each melody: single notes of 0.25-1.5 s and rests of 0.1-1.0 s in the instrument's register,
seeded from 3000 (the project's data uses composer seeds below 2,400), so never trained on.

    training/phase_loss.py models/small.safetensors [--melodies 3] [--seconds 12] [--json out.json]"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import dataset  # noqa: E402  (FluidSynth, frame-aligned as the training data)
import quality  # noqa: E402  (the config for another model, a melody's MIDI file)
import safetensors_io  # noqa: E402
import train  # noqa: E402  (the warped past, as training draws it)
import wavecast_export  # noqa: E402
import wavenet  # noqa: E402

REGISTERS = {  # model instrument: the MIDI pitches its melodies take
    "electric_bass": (28, 48), "piano": (48, 76), "strings": (48, 72), "lead_square": (60, 81),
    "pad_warm": (48, 72), "electric_piano": (52, 76), "acoustic_guitar": (45, 72)}
PHASES = ("attack", "sustain", "release", "silence")
ATTACK_S, RELEASE_S = 0.1, 0.5
PASTS = ("true", "noisy", "warped", "silent", "own")


def melody(rng, register, seconds):
    """[(start_s, end_s, pitch, velocity)], one note at a time, from 0.5 s."""
    notes, t = [], 0.5
    while True:
        length = rng.uniform(0.25, 1.5)
        if t + length > seconds - 0.6:
            return notes
        notes.append((t, t + length, int(rng.integers(register[0], register[1] + 1)), int(rng.integers(70, 111))))
        t += length + rng.uniform(0.1, 1.0)


def phases(features, hop, rate):
    """[samples] of indices into PHASES, from the frames the engine fed lane 0."""
    vel = features[:, 0, wavecast_export.VELOCITY:wavecast_export.VELOCITY + wavecast_export.PITCHES]
    sounding = vel.max(axis=1) > 0
    newest = wavecast_export.start_frames(features, 0).max(axis=1)  # the newest sounding note's start frame
    label = np.full(len(sounding), PHASES.index("silence"))
    last_end = -10 ** 9
    for k in range(len(sounding)):
        if sounding[k]:
            label[k] = PHASES.index("attack" if (k - newest[k]) * hop < ATTACK_S * rate else "sustain")
            last_end = k + 1
        elif (k - last_end) * hop < RELEASE_S * rate:
            label[k] = PHASES.index("release")
    return np.repeat(label, hop)


def past_for(kind, classes, silence, rng, segment, max_lag):
    """The past (the class before each sample) a training step would feed with `kind`'s
    degradation, over the whole melody; a warped past segment by segment, as train.py draws it."""
    past = np.concatenate([[silence], classes[:-1]]).astype(np.int64)
    if kind == "noisy":
        return np.clip(np.rint(past + rng.normal(0.0, 12.0, past.shape)), 0, 2 * silence - 1).astype(np.int64)
    if kind == "silent":
        return np.full_like(past, silence)
    if kind == "warped":
        warper = train.Segments.__new__(train.Segments)  # only its warp, which needs nothing but the silence class
        warper.silence = silence
        for s0 in range(1, len(past), segment):
            n = min(segment, len(past) - s0)
            past[s0:s0 + n] = warper.warped(classes, s0 - 1, n, rng, max_lag)
    return past


def score(net, target, past, feats, insts, decode):
    """Per-sample cross-entropy (nats) of `target` given `past`, and the expected sample."""
    with torch.no_grad():
        logits = net(torch.from_numpy(past)[None], torch.from_numpy(feats[:, 0])[None].float(), torch.from_numpy(insts[:, 0])[None].float())[0]
        ce = F.cross_entropy(logits, torch.from_numpy(target), reduction="none").numpy()
        expected = (torch.softmax(logits, -1) * decode).sum(-1).numpy()
    return ce, expected


def lpc_error(x, order=16, fit=400, block=160):
    """The error of a backward-adaptive order-16 linear predictor (fitted by least squares on the
    400 samples before each 160-sample block, applied to the block): the predictor the network is
    held against (../shared/notes/prediction-gain.md)."""
    e = x.copy()
    for b0 in range(fit, len(x) - block + 1, block):
        past = x[b0 - fit:b0]
        rows = np.lib.stride_tricks.sliding_window_view(past, order + 1)
        coef, *_ = np.linalg.lstsq(rows[:, :-1], rows[:, -1], rcond=None)
        seg = x[b0 - order:b0 + block]
        e[b0:b0 + block] = seg[order:] - np.lib.stride_tricks.sliding_window_view(seg, order)[:-1] @ coef
    return e


def one_melody(a, net, inst_name, seed, tmp):
    """(phase of each sample, {past: (nats, audio, expected sample)}, the export's metadata)."""
    spec = net.spec
    rate, hop, n_classes = spec["sample_rate"], spec["frame_hop"], spec["audio_classes"]
    index = next(i for i, x in enumerate(spec["instruments"]) if x["name"] == inst_name)
    instrument = spec["instruments"][index]
    mid, out = os.path.join(tmp, f"{inst_name}-{seed}.mid"), os.path.join(tmp, f"{inst_name}-{seed}.safetensors")
    quality.write_melody(mid, melody(np.random.default_rng(seed), REGISTERS[inst_name], a.seconds), instrument["program"])
    quality.run([a.wavecastd, "--config", a.config, "export", "--score", mid, "--seconds", str(a.seconds), "--lanes", "1",
                 "--seed", str(seed), "--play", "--out", out], timeout=1800)
    tensors, meta = safetensors_io.read(out)
    meta = json.loads(meta["wavecast_export"])
    feats, insts = np.asarray(tensors["features"]), np.asarray(tensors["instruments"])
    got = int(np.argmax(insts[:, 0].mean(axis=0)))
    if got != index:
        raise SystemExit(f"{mid}: the engine played program {instrument['program']} as {spec['instruments'][got]['name']}, not {inst_name}")
    truth = dataset.FrameRenderer(rate, hop, tmp).render(wavecast_export.notes(feats, 0), instrument, feats.shape[0] * hop,
                                                         os.path.join(tmp, "lane.mid"))
    classes = {"truth": wavenet.mulaw_encode(wavenet.training_audio(truth[None], spec["pre_emphasis"], a.level)[0], n_classes),
               "own": wavenet.mulaw_encode(np.asarray(tensors["samples"])[0], n_classes)}
    decode = torch.tensor(wavenet.mulaw_decode(np.arange(n_classes), n_classes), dtype=torch.float32)
    result = {}
    for kind in PASTS:
        target = classes["own" if kind == "own" else "truth"]
        past = past_for(kind, target, n_classes // 2, np.random.default_rng(seed + 1), a.segment_frames * hop, int(0.15 * rate))
        ce, expected = score(net, target, past, feats, insts, decode)
        result[kind] = (ce, wavenet.mulaw_decode(target, n_classes), expected)
    x = result["true"][1]
    result["lpc"] = (np.zeros_like(x), x, x - lpc_error(x))  # the LPC's figure beside the network's: no loss, its prediction gain
    return phases(feats, hop, rate), result, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="a model file")
    ap.add_argument("--instruments", default=",".join(REGISTERS))
    ap.add_argument("--melodies", type=int, default=3, help="per instrument")
    ap.add_argument("--seconds", type=float, default=12.0, help="of each melody")
    ap.add_argument("--segment-frames", type=int, default=24, help="a training segment's length (train.py --frames), for the warped past")
    ap.add_argument("--level", type=float, help="the training audio's level (default: the model's provenance's)")
    ap.add_argument("--config", default=os.path.join(ROOT, "config/wavecastd.toml"),
                    help="whose first stream's sampling plays the own past (its model replaced by MODEL)")
    ap.add_argument("--wavecastd", default=os.path.join(ROOT, "build/daemon/wavecastd"))
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    for inst in a.instruments.split(","):
        if inst not in REGISTERS:
            raise SystemExit(f"--instruments: no register for {inst!r} (one of {', '.join(REGISTERS)})")
    net, spec = wavenet.WaveNet.load(a.model)
    net.eval()
    if a.level is None:
        a.level = float((spec.get("provenance") or {}).get("level", 0.0))
    figures, meta = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        a.config = quality.config_for_model(a.config, a.model, os.path.join(tmp, "config.toml"))
        for inst in a.instruments.split(","):
            # nats, samples, x^2, (x - E[x])^2, E[x], x
            sums = {k: np.zeros((len(PHASES), 6)) for k in PASTS + ("lpc",)}
            for m in range(a.melodies):
                label, result, meta = one_melody(a, net, inst, 3000 + 100 * list(REGISTERS).index(inst) + m, tmp)
                for kind, (ce, x, expected) in result.items():
                    for ph in range(len(PHASES)):
                        sel = label == ph
                        sums[kind][ph] += [ce[sel].sum(), sel.sum(), (x[sel] ** 2).sum(), ((x[sel] - expected[sel]) ** 2).sum(),
                                           expected[sel].sum(), x[sel].sum()]
            figures[inst] = {kind: {name: {"nats": round(s[0] / s[1], 3), "seconds": round(s[1] / spec["sample_rate"], 2),
                                           "gain_db": round(float(10 * np.log10((s[2] + 1e-30) / (s[3] + 1e-30))), 1),
                                           "mean_expected": round(float(s[4] / s[1]), 5), "mean_audio": round(float(s[5] / s[1]), 5)}
                                    for name, s in zip(PHASES, sums[kind]) if s[1] > 0}
                             for kind in PASTS + ("lpc",)}
            for ph in figures[inst]["lpc"].values():
                for k in ("nats", "mean_expected", "mean_audio"):
                    ph.pop(k)
            row = "  ".join(f"{k} " + "/".join(f"{figures[inst][k].get(p, {}).get('nats', float('nan')):.2f}" for p in PHASES) for k in PASTS)
            print(f"{inst}: nats a sample (attack/sustain/release/silence): {row}; sustain prediction gain on the true past "
                  f"{figures[inst]['true'].get('sustain', {}).get('gain_db')} dB (LPC-16 {figures[inst]['lpc'].get('sustain', {}).get('gain_db')} dB); "
                  f"mean expected sample in silence {figures[inst]['true'].get('silence', {}).get('mean_expected')}",
                  flush=True)
    out = {"model": a.model, "melodies_per_instrument": a.melodies, "seconds": a.seconds, "phases": PHASES, "pasts": PASTS,
           "sampling": {k: meta.get(k) for k in ("temperature", "tail_cut", "sustain_temperature", "played_by")}, "figures": figures}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
