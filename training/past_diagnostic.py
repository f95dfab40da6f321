#!/usr/bin/python3
"""How much a model follows its excitation rather than its own past: teacher-forced on held-out
segments of one instrument at a time, the correlation of the expected next sample with the audio
when the network is fed the true past, a noisy one (12 mu-law classes), a silent one, and a
warped one (the audio resampled up to a semitone off, as train.py --warped-past makes it) and a
lagged one (warped and up to 150 ms late, as --past-lag-ms 150 makes it). A
network that scores well only with the true past will follow its own drift when running free.

    training/past_diagnostic.py models/small.safetensors [--held training/data/held]"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402
import wavenet  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="a model file, or a training run's checkpoint.pt (small shape)")
    ap.add_argument("--held", default=os.path.join(ROOT, "training/data/held"))
    ap.add_argument("--instruments", default="electric_bass,lead_square,piano")
    ap.add_argument("--batches", type=int, default=6, help="of 4 segments each, per instrument and past")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.model.endswith(".pt"):
        net = wavenet.WaveNet(wavenet.spec_for("small"))
        net.load_state_dict(torch.load(a.model)["model"])
    else:
        net, _ = wavenet.WaveNet.load(a.model)
    net.eval()
    spec = net.spec
    # In the model's own domain; a level would scale both sides of the correlation alike.
    held = train.Segments(a.held, spec["frame_hop"], spec["audio_classes"], spec.get("pre_emphasis", 0.0))
    decode = torch.tensor(wavenet.mulaw_decode(np.arange(spec["audio_classes"]), spec["audio_classes"]), dtype=torch.float32)
    warm = -(-net.receptive_field() // spec["frame_hop"])
    pasts = {"true": {}, "noisy": {"input_noise": 12.0}, "silent": {"silent_past": 1.0}, "warped": {"warped_past": 1.0},
             "lagged": {"warped_past": 1.0, "past_lag": int(0.15 * spec["sample_rate"])}}
    everything = held.by_instrument
    for name in a.instruments.split(","):
        inst = next(i for i, x in enumerate(wavenet.INSTRUMENTS) if x["name"] == name)
        if inst not in everything:
            print(f"{name}: not in {a.held}")
            continue
        held.by_instrument = {inst: everything[inst]}
        figures = []
        for label, kw in pasts.items():
            rng = np.random.default_rng(5)  # the same seed for every past (the draws differ after the first segment)
            corr = []
            for _ in range(a.batches):
                inputs, targets, feats, insts, starts, note_frames = held.batch(rng, 4, warm + 16, silent_share=0.0, **kw)
                cut = warm * spec["frame_hop"]
                with torch.no_grad():
                    logits = net(inputs, feats.float(), insts.float(), starts, head_from=cut, note_frames=note_frames)
                expected = (torch.softmax(logits, -1) * decode).sum(-1)
                audio = decode[targets[:, cut:]]
                corr += [float(np.corrcoef(expected[i].numpy(), audio[i].numpy())[0, 1]) for i in range(len(audio)) if audio[i].std() > 1e-4]
            figures.append(f"{label} {np.mean(corr):.2f}")
        print(f"{name}: " + ", ".join(figures), flush=True)
    held.by_instrument = everything


if __name__ == "__main__":
    main()
