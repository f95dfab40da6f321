#!/usr/bin/python3
"""Trains the wavecast network, teacher-forced, on items made by training/dataset.py, and exports
it as a model file the engine loads.

    training/train.py --data training/data/train --shape small --minutes 60 --run training/runs/small \\
        --export models/small.safetensors

Each step takes random segments (one lane of one item each, mostly where the lane plays, every
instrument equally often), feeds
the true previous samples as input and minimises the cross-entropy of the next sample's mu-law
class, counted only after the receptive field has filled. Runs on the CPU (Debian's
python3-torch) or on a CUDA device when PyTorch sees one (--device). Resumable: RUN/checkpoint.pt
holds the weights, the optimiser and the step, written every --checkpoint-minutes and at the end;
RUN/loss.tsv logs step, seconds, training loss and held-out loss."""

import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import time

# glibc hands PyTorch's large buffers back to the kernel on every free and faults them in again on
# the next step (two thirds of the CPU time went to the system); keeping them in the heap makes a
# step on the CPU a fifth faster. The settings only take effect at start, so the script restarts
# itself once with them.
_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 32), "MALLOC_TRIM_THRESHOLD_": str(1 << 36), "MALLOC_TOP_PAD_": str(1 << 30)}
if __name__ == "__main__" and any(os.environ.get(k) != v for k, v in _MALLOC.items()):
    os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, **_MALLOC))

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pack  # noqa: E402
import safetensors_io  # noqa: E402
import wavecast_export  # noqa: E402
import wavenet  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dataset_items(source, classes, pre_emphasis=0.0, level=0.0):
    """(mu-law classes [lanes, samples], features, instruments, export metadata) of each item of a
    dataset folder (training/dataset.py), or of a pack (training/pack.py), the audio made into what
    the network plays by wavenet.training_audio (a pack is made so by pack.py)."""
    if os.path.isfile(source):
        try:
            items = pack.load(source, classes, pre_emphasis, level)
        except ValueError as e:
            raise SystemExit(str(e))
        return sorted(((c, f, i, json.loads(m)) for c, f, i, m in items), key=lambda it: it[3]["item"])
    paths = sorted(glob.glob(os.path.join(source, "*.safetensors")))
    if not paths:
        raise SystemExit(f"{source}: no dataset items (make them with training/dataset.py)")
    items = []
    for p in paths:
        t, meta = safetensors_io.read(p)
        items.append((wavenet.mulaw_encode(wavenet.training_audio(t["audio"], pre_emphasis, level), classes), np.asarray(t["features"]),
                      np.asarray(t["instruments"]), json.loads(meta["wavecast_export"])))
    # By item name, as a pack has them in its own order: the same data gives the same batches.
    return sorted(items, key=lambda it: it[3]["item"])


class Segments:
    """Every item of a dataset folder or pack in memory, and random (lane, segment) draws from them."""

    def __init__(self, source, hop, classes, pre_emphasis=0.0, level=0.0):
        self.items = []
        for audio_classes, features, instruments, meta in dataset_items(source, classes, pre_emphasis, level):
            if meta["frame_hop"] != hop:
                raise SystemExit(f"{source}: item {meta['item']} has frame hop {meta['frame_hop']}, the model's is {hop}")
            active = np.asarray(features[:, :, wavenet.FEATURES - 1] > 0)  # [frames, lanes]
            self.items.append((audio_classes.astype(np.int16), features, instruments, active, meta["item"]))
        self.hop, self.silence = hop, classes // 2
        # (item, lane) pairs by the instrument each lane mostly plays: the drums play in nearly
        # every score and most of the time, and would otherwise take a third of the steps.
        self.by_instrument = {}
        for i, (_, _, inst, _, _) in enumerate(self.items):
            for lane in range(inst.shape[1]):
                self.by_instrument.setdefault(int(inst[:, lane].mean(axis=0).argmax()), []).append((i, lane))
        self.hours = sum(c.shape[0] * c.shape[1] for c, *_ in self.items) / (meta["sample_rate"] * 3600.0)

    def warped(self, lane_classes, s0, n, rng, max_lag=0):
        """n samples of a lane from s0 (the silence class before its first), resampled by a ratio
        of up to a semitone either way about a random pivot: audio like the network's own, in the
        wrong phase and a little out of tune, as its past is when it drifts running free. With
        max_lag, also late by up to that many samples: at each onset the past still holds the note
        before, as a free-running network's does while it changes note."""
        ratio = 2.0 ** (rng.uniform(-1.0, 1.0) / 12.0)
        pivot = rng.uniform(0, n)
        lag = rng.uniform(0, max_lag) if max_lag > 0 else 0.0
        pos = s0 - lag + pivot + ratio * (np.arange(n) - pivot)
        lo = max(int(np.floor(pos.min())), 0)
        hi = min(int(np.ceil(pos.max())) + 1, lane_classes.shape[0])
        if hi - lo < 2:
            return np.full(n, self.silence, dtype=np.int64)
        audio = wavenet.mulaw_decode(lane_classes[lo:hi], 2 * self.silence)
        x = np.interp(pos, np.arange(lo, hi), audio, left=0.0, right=0.0)
        return wavenet.mulaw_encode(x, 2 * self.silence)

    def batch(self, rng, batch, frames, silent_share=0.1, balanced=True, input_noise=0.0, silent_past=0.0, warped_past=0.0,
              past_lag=0):
        """inputs [B, T], targets [B, T], features [B, K, F], instruments [B, K, N] for T = K * hop,
        start [B], the item's sample index of each segment's first sample, and note_frames [B, K, 128],
        the item's frame in which each sounding note started (for the excitation's phase).
        Balanced: each segment's instrument drawn first, uniformly, then a lane that plays it;
        otherwise a uniform lane of a uniform item (the held-out loss, comparable across runs).
        input_noise: the standard deviation, in mu-law classes, of noise added to the inputs (not
        the targets), so that the network cannot lean on its own past alone (see --input-noise);
        silent_past: the share of segments fed silence instead of their past (see --silent-past);
        warped_past: the share fed their own audio played up to a semitone sharp or flat, around a
        random point of the segment (see --warped-past); past_lag: the most samples a warped past
        runs late (see --past-lag-ms)."""
        inputs, targets, feats, insts, starts, note_frames = [], [], [], [], [], []
        keys = sorted(self.by_instrument)
        while len(inputs) < batch:
            if balanced:
                lanes = self.by_instrument[keys[rng.integers(len(keys))]]
                item, lane = lanes[rng.integers(len(lanes))]
                classes, f, inst, active, _ = self.items[item]
            else:
                classes, f, inst, active, _ = self.items[rng.integers(len(self.items))]
                lane = rng.integers(classes.shape[0])
            k0 = rng.integers(0, f.shape[0] - frames)
            if not active[k0:k0 + frames, lane].any() and rng.random() > silent_share:
                continue
            s0 = k0 * self.hop
            seq = classes[lane, s0:s0 + frames * self.hop].astype(np.int64)
            first = int(classes[lane, s0 - 1]) if s0 > 0 else self.silence  # as the engine starts a lane
            past = np.concatenate([[first], seq[:-1]])
            draw = rng.random() if silent_past + warped_past > 0 else 1.0
            if draw < silent_past:
                past = np.full_like(past, self.silence)
            else:
                if draw < silent_past + warped_past:
                    past = self.warped(classes[lane], s0 - 1, len(past), rng, past_lag)
                if input_noise > 0:
                    past = np.clip(np.rint(past + rng.normal(0.0, input_noise, past.shape)), 0, 2 * self.silence - 1).astype(np.int64)
            inputs.append(past)
            targets.append(seq)
            feats.append(f[k0:k0 + frames, lane])
            insts.append(inst[k0:k0 + frames, lane])
            starts.append(s0)
            note_frames.append(wavecast_export.start_frames(f[:k0 + frames], lane)[k0:])
        t = torch.from_numpy
        return (t(np.stack(inputs)), t(np.stack(targets)), t(np.stack(feats)), t(np.stack(insts)), t(np.array(starts, dtype=np.int64)),
                t(np.stack(note_frames)))


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def git_commit():
    if os.environ.get("WAVECAST_COMMIT"):  # a bundle carried to a machine without the repository
        return os.environ["WAVECAST_COMMIT"]
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description="Trains the wavecast network on dataset items and exports it.")
    ap.add_argument("--data", required=True, help="folder of training items (training/dataset.py), or a pack of them (training/pack.py)")
    ap.add_argument("--held-out", help="folder or pack of held-out items for the validation loss")
    ap.add_argument("--shape", default="small", choices=sorted(wavenet.SHAPES))
    ap.add_argument("--run", required=True, help="folder for checkpoint.pt and loss.tsv (resumed if present)")
    ap.add_argument("--minutes", type=float, default=60.0, help="training time budget of this invocation")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps of this invocation, if sooner (0: no limit)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=16, help="segment length in frames (beyond the receptive field)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-final", type=float, help="decay the learning rate geometrically from --lr to this over "
                                                   "this invocation's --minutes (default: constant)")
    ap.add_argument("--input-noise", type=float, default=0.0,
                    help="noise (standard deviation in mu-law classes) on the previous samples the network is fed: "
                         "teacher-forced, a network can predict a tone from its own past and ignore the notes, which "
                         "it then cannot do running free; with noisy inputs it must follow the conditioning")
    ap.add_argument("--silent-past", type=float, default=0.0,
                    help="the share of segments whose fed-back samples are all silence: running free, every note "
                         "starts from silence, and a network trained only on true pasts learns to continue a tone, "
                         "not to start one from its conditioning and excitation")
    ap.add_argument("--warped-past", type=float, default=0.0,
                    help="the share of segments fed their own audio resampled up to a semitone sharp or flat: "
                         "running free, a network's past drifts out of phase and tune with its excitation, and one "
                         "trained on true pasts follows the drift; a warped past teaches it to follow the excitation")
    ap.add_argument("--past-lag-ms", type=float, default=0.0,
                    help="a warped past also runs late by up to this long: running free, a note's attack follows "
                         "the note before in the network's past, and the bass, trained without, settled late")
    ap.add_argument("--pre-emphasis", type=float, default=0.0,
                    help="train on audio filtered by 1 - A z^-1 (LPCNet's 0.85), which the engine undoes on output, so "
                         "that the network's noise falls under the music's spectrum; written into the model file")
    ap.add_argument("--level", type=float, default=0.0,
                    help="scale each lane of each item to this peak (e.g. 0.9) before training, so that the network plays "
                         "near full scale rather than at FluidSynth's gain 0.5 (0: as rendered)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--export", help="write the trained model here (safetensors) at the end")
    ap.add_argument("--init", help="start from this model file's weights (e.g. a shipped model, to train it further) "
                                   "when RUN holds no checkpoint; its steps and time carry into the new provenance")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if not 0.0 <= a.pre_emphasis < 1.0:
        raise SystemExit("--pre-emphasis: 0 <= A < 1")
    if not 0.0 <= a.level <= 1.0:
        raise SystemExit("--level: 0 (as rendered) up to 1")
    torch.set_num_threads(a.threads)
    os.makedirs(a.run, exist_ok=True)
    ckpt_path, log_path = os.path.join(a.run, "checkpoint.pt"), os.path.join(a.run, "loss.tsv")

    spec = dict(wavenet.spec_for(a.shape), pre_emphasis=a.pre_emphasis)
    net = wavenet.WaveNet(spec)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    state = {"step": 0, "seconds": 0.0, "samples": 0, "data": os.path.abspath(a.data), "shape": a.shape,
             "pre_emphasis": a.pre_emphasis, "level": a.level}
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        state = ck["state"]
        for key, value in (("pre_emphasis", a.pre_emphasis), ("level", a.level)):
            if state.get(key, 0.0) != value:
                raise SystemExit(f"{ckpt_path}: trained with {key} {state.get(key, 0.0)}, not {value}")
        print(f"train: resumed {ckpt_path} at step {state['step']} ({state['seconds'] / 60:.1f} min)")
    elif a.init:
        init, init_spec = wavenet.WaveNet.load(a.init)
        if init_spec["residual_channels"] != spec["residual_channels"] or init_spec["layers"] != spec["layers"]:
            raise SystemExit(f"{a.init}: not the {a.shape} shape")
        net.load_state_dict(init.state_dict())
        prov = init_spec.get("provenance", {})
        state.update(step=int(prov.get("steps", 0)), seconds=60.0 * float(prov.get("wall_minutes", 0)),
                     samples=int(prov.get("samples_seen", 0)), initialised_from=os.path.abspath(a.init))
        print(f"train: starting from {a.init} (step {state['step']})")
    net.to(a.device)

    data = Segments(a.data, spec["frame_hop"], spec["audio_classes"], a.pre_emphasis, a.level)
    held = Segments(a.held_out, spec["frame_hop"], spec["audio_classes"], a.pre_emphasis, a.level) if a.held_out else None
    print(f"train: {len(data.items)} items, {data.hours:.2f} lane-hours; {a.shape} "
          f"(receptive field {net.receptive_field()} samples) on {a.device} x{a.threads}")
    rng = np.random.default_rng(a.seed + state["step"])
    warm = -(-net.receptive_field() // spec["frame_hop"])  # whole frames of warm-up before the loss counts
    frames = warm + a.frames
    past_lag = int(round(a.past_lag_ms * 1e-3 * spec["sample_rate"]))
    held_batches = None
    if held:
        hrng = np.random.default_rng(12345)
        held_batches = [held.batch(hrng, a.batch, frames, silent_share=0.0, balanced=False) for _ in range(8)]

    def loss_of(batch):
        inputs, targets, feats, insts, starts, note_frames = (x.to(a.device) for x in batch)
        cut = warm * spec["frame_hop"]
        logits = net(inputs, feats.float(), insts.float(), starts, head_from=cut, note_frames=note_frames)
        return F.cross_entropy(logits.reshape(-1, logits.shape[2]), targets[:, cut:].reshape(-1))

    def save():
        tmp = ckpt_path + ".tmp"
        torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "state": state}, tmp)
        os.replace(tmp, ckpt_path)

    log = open(log_path, "a")
    if os.path.getsize(log_path) == 0:
        log.write("step\tseconds\tloss\theld_out_loss\n")
    start = time.monotonic()
    last_ckpt, running, n = start, 0.0, 0
    def log_line():
        elapsed = state["seconds"] + time.monotonic() - last_ckpt
        held_loss = ""
        if held_batches:
            net.eval()
            with torch.no_grad():
                held_loss = f"{np.mean([loss_of(b).item() for b in held_batches]):.4f}"
        log.write(f"{state['step']}\t{elapsed:.0f}\t{running / n:.4f}\t{held_loss}\n")
        log.flush()
        print(f"train: step {state['step']} {elapsed / 60:.1f} min loss {running / n:.4f} held-out {held_loss or '-'}", flush=True)

    first_step = state["step"]
    while time.monotonic() - start < a.minutes * 60 and not (a.steps and state["step"] - first_step >= a.steps):
        lr = a.lr
        if a.lr_final:  # by elapsed time, as the budget is time: the run ends at the final rate
            lr = a.lr * (a.lr_final / a.lr) ** min(1.0, (time.monotonic() - start) / (a.minutes * 60))
        for g in opt.param_groups:
            g["lr"] = lr
        net.train()
        loss = loss_of(data.batch(rng, a.batch, frames, input_noise=a.input_noise, silent_past=a.silent_past,
                                    warped_past=a.warped_past, past_lag=past_lag))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        state.update(batch=a.batch, segment_frames=a.frames, lr=a.lr, lr_final=a.lr_final or a.lr,
                     sampling="balanced by instrument", input_noise=a.input_noise,
                     silent_past=a.silent_past, warped_past=a.warped_past, past_lag_ms=a.past_lag_ms,
                     pre_emphasis=a.pre_emphasis, level=a.level)  # for the provenance
        state["samples"] += a.batch * a.frames * spec["frame_hop"]
        running, n = running + loss.item(), n + 1
        if state["step"] % 100 == 0:
            log_line()
            running, n = 0.0, 0
        if time.monotonic() - last_ckpt > a.checkpoint_minutes * 60:
            state["seconds"] += time.monotonic() - last_ckpt
            last_ckpt = time.monotonic()
            save()
    if n:
        log_line()  # the steps since the last line, so that the log ends where training did
    state["seconds"] += time.monotonic() - last_ckpt
    save()
    print(f"train: {state['step']} steps, {state['seconds'] / 60:.1f} min in all; checkpoint {ckpt_path}")

    if a.export:
        lines = open(log_path).read().split("\n")[1:]
        last = [l.split("\t") for l in lines if l][-1]
        provenance = {"data": state["data"], "data_lane_hours": round(data.hours, 3), "steps": state["step"],
                      "samples_seen": state["samples"], "wall_minutes": round(state["seconds"] / 60, 1),
                      "loss": float(last[2]), "held_out_loss": float(last[3]) if last[3] else None,
                      "hardware": f"CPU: {cpu_name()}, {a.threads} threads" if a.device == "cpu" else torch.cuda.get_device_name(), "torch": torch.__version__,
                      "commit": git_commit(), "batch": state.get("batch", a.batch),
                      "segment_frames": state.get("segment_frames", a.frames), "lr": state.get("lr", a.lr),
                      "lr_final": state.get("lr_final", state.get("lr", a.lr)), "sampling": state.get("sampling"),
                      "input_noise": state.get("input_noise", 0.0), "silent_past": state.get("silent_past", 0.0),
                      "warped_past": state.get("warped_past", 0.0), "past_lag_ms": state.get("past_lag_ms", 0.0),
                      "level": state.get("level", 0.0)}
        if "initialised_from" in state:
            provenance["initialised_from"] = state["initialised_from"]
            if os.path.exists(state["initialised_from"]):  # a grown model keeps saying what it was grown from
                _, init_meta = safetensors_io.read(state["initialised_from"])
                init_prov = json.loads(init_meta["wavecast"]).get("provenance", {})
                provenance.update({k: v for k, v in init_prov.items() if k.startswith("widen")})
        net.to("cpu").save(a.export, provenance)
        print(f"train: exported {a.export}")


if __name__ == "__main__":
    main()
