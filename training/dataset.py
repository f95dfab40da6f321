#!/usr/bin/python3
"""Builds the training set: the composer's scores (every style, many seeds) and a user's own
(audio, MIDI) pairs, each lane paired with the conditioning frames the engine computes for it.

    training/dataset.py --out training/data/train --seeds 1-6 --seconds 60
    training/dataset.py --out training/data/mine --pairs ~/recordings     # NAME.wav + NAME.mid

Composer items: `wavecastd export` writes the frames (one code path with the engine: the frames
are the ones the stream would feed the network); each lane's notes, as the frames give them
(whole frames: a note starts where the engine's excitation starts its phase,
wavecast_export.note_starts), are then rendered alone through FluidSynth with the FluidR3
General MIDI soundfont, playing the General MIDI program of the model instrument the engine maps
that lane to (so that an instrument embedding means one timbre). Reverb and chorus are off: they
are the post tier's business, not the instrument's.

Every note's sound starts on the first sample of its frame, so that it stands in the same phase
to the excitation wherever it falls: FluidSynth starts notes only on its 64-sample blocks (and
whole milliseconds), so it renders at a multiple of the model's rate where a frame is whole
blocks (32 kHz for 16 kHz frames of 10 ms), its one-block latency measured on a probe note and
taken off, and the result is brought down to the model's rate.

A pair: NAME.mid is exported as a score (each of its parts a lane) and NAME.wav (any rate, mono
or stereo) is taken as the sound of its only part, so a pair must hold one instrument.

Each item is one file, OUT/NAME.safetensors: audio [lanes, samples] (float, model rate),
features [frames, lanes, 258], instruments [frames, lanes, N], with the export's metadata.
Deterministic (same seeds, same files) and cached: an item whose file exists is not made again."""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import mido
import numpy as np
import scipy.signal
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import wavecast_export  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
STYLES = ["ambient", "cinematic", "dnb", "house", "jazz_trio", "lofi", "solo_piano", "techno"]
GAIN = 0.5  # FluidSynth's master gain: a full chord stays below clipping


def run(cmd, timeout=600):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


BLOCK = 64  # FluidSynth's rendering block (FLUID_BUFSIZE): a note starts on one


def fluidsynth(midi_path, rate, samples, skip=0):
    """The MIDI file rendered mono at `rate`, its first `skip` samples dropped, cut or padded to
    `samples`."""
    with tempfile.NamedTemporaryFile(suffix=".raw") as raw:
        run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", str(GAIN), "-r", str(rate), "-T", "raw", "-O", "float",
             "-E", "little", "-F", raw.name, SOUNDFONT, midi_path])
        stereo = np.fromfile(raw.name, dtype="<f4").reshape(-1, 2)
    mono = stereo.mean(axis=1)[skip:]
    out = np.zeros(samples, dtype=np.float32)
    n = min(samples, len(mono))
    out[:n] = mono[:n]
    return out


def write_notes(path, notes, frame_ms, instrument):
    """A MIDI file of (start_frame, end_frame, pitch, velocity) notes on the instrument's GM program
    (channel 10 for a kit), one tick a millisecond."""
    out = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=480000, time=0)])  # 480 ticks in 480 ms
    channel = 9 if instrument["drums"] else 0
    track.append(mido.Message("program_change", channel=channel, program=instrument["program"], time=0))
    # At one tick, note-offs first: a pitch that starts again ends before it does.
    events = sorted([(e * frame_ms, 0, p, 0) for _, e, p, _ in notes] + [(s * frame_ms, 1, p, v) for s, _, p, v in notes])
    last = 0
    for tick, on, pitch, vel in events:
        track.append(mido.Message("note_on" if on else "note_off", channel=channel, note=pitch, velocity=vel, time=tick - last))
        last = tick
    out.tracks.append(track)
    out.save(path)


class FrameRenderer:
    """Renders notes that start on frame boundaries so that their sound starts exactly there."""

    def __init__(self, rate, hop, tmp):
        self.rate, self.hop = rate, hop
        self.up = next(m for m in range(1, 65) if (hop * m) % BLOCK == 0)
        self.frame_ms = 1000 * hop // rate
        if self.frame_ms * rate != 1000 * hop:
            raise SystemExit(f"a frame of {hop} samples at {rate} Hz is not a whole number of milliseconds")
        probe = os.path.join(tmp, "probe.mid")
        at = 10  # frames
        write_notes(probe, [(at, at + 20, 60, 100)], self.frame_ms, {"program": 0, "drums": False})
        x = fluidsynth(probe, rate * self.up, 2 * at * hop * self.up)
        first = int(np.nonzero(np.abs(x) > 0)[0][0])
        # The voice's first sample is its envelope's zero: the sound begins one sample before the
        # first that is not zero.
        self.latency = first - 1 - at * hop * self.up
        if self.latency < 0 or self.latency % BLOCK:
            raise SystemExit(f"FluidSynth started a probe note {self.latency} samples after its time, not whole blocks")

    def render(self, notes, instrument, samples, path):
        write_notes(path, notes, self.frame_ms, instrument)
        x = fluidsynth(path, self.rate * self.up, samples * self.up + 64 * self.up, skip=self.latency)
        return scipy.signal.resample_poly(x, 1, self.up)[:samples].astype(np.float32)


def make_composer_item(a, style, seed, path):
    with tempfile.TemporaryDirectory() as tmp:
        frames_path = os.path.join(tmp, "frames.safetensors")
        run([a.wavecastd, "--config", a.config, "export", "--style", style, "--seconds", str(a.seconds), "--seed", str(seed),
             "--lanes", str(a.lanes), "--out", frames_path])
        feats, instr, meta = wavecast_export.load(frames_path)
        rate, hop = meta["sample_rate"], meta["frame_hop"]
        samples = feats.shape[0] * hop
        renderer = FrameRenderer(rate, hop, tmp)
        audio = np.zeros((feats.shape[1], samples), dtype=np.float32)
        for lane in range(feats.shape[1]):
            weights = instr[:, lane].mean(axis=0)
            instrument = meta["instrument_table"][int(np.argmax(weights))]
            notes = wavecast_export.notes(feats, lane)
            if notes:
                audio[lane] = renderer.render(notes, instrument, samples, os.path.join(tmp, f"lane{lane}.mid"))
        meta.update(item=f"{style}/{seed}", soundfont=os.path.basename(SOUNDFONT), gain=GAIN)
        safetensors_io.write(path, {"audio": audio, "features": feats, "instruments": instr},
                             {"wavecast_export": json.dumps(meta)})


def make_pair_item(a, wav, mid, path):
    import scipy.io.wavfile
    with tempfile.TemporaryDirectory() as tmp:
        frames_path = os.path.join(tmp, "frames.safetensors")
        run([a.wavecastd, "--config", a.config, "export", "--score", mid, "--seconds", str(a.seconds), "--lanes", "1",
             "--out", frames_path])
        feats, instr, meta = wavecast_export.load(frames_path)
    rate_in, x = scipy.io.wavfile.read(wav)
    if x.dtype.kind in "iu":
        x = x / float(np.iinfo(x.dtype).max)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    rate = meta["sample_rate"]
    g = np.gcd(rate_in, rate)
    x = scipy.signal.resample_poly(x, rate // g, rate_in // g)
    samples = feats.shape[0] * meta["frame_hop"]
    audio = np.zeros((1, samples), dtype=np.float32)
    audio[0, :min(samples, len(x))] = x[:samples]
    meta.update(item=os.path.basename(wav))
    safetensors_io.write(path, {"audio": audio, "features": feats, "instruments": instr}, {"wavecast_export": json.dumps(meta)})


def seeds(text):
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main():
    ap = argparse.ArgumentParser(description="Builds wavecast training data (composer scores rendered by FluidSynth, or your own pairs).")
    ap.add_argument("--out", required=True, help="folder of items (created)")
    ap.add_argument("--styles", default=",".join(STYLES), help="comma-separated style names")
    ap.add_argument("--seeds", default="1-6", help="composer seeds, e.g. 1-6 or 1,3,9 (held-out figures use 1000 and up)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each item")
    ap.add_argument("--lanes", type=int, default=4)
    ap.add_argument("--pairs", help="a folder of NAME.wav + NAME.mid pairs (one instrument each) instead of the composer")
    ap.add_argument("--config", default=os.path.join(ROOT, "config/wavecastd.toml"), help="names the model whose instrument table and rate to use")
    ap.add_argument("--wavecastd", default=os.path.join(ROOT, "build/daemon/wavecastd"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    jobs = []
    if a.pairs:
        for name in sorted(os.listdir(a.pairs)):
            stem, ext = os.path.splitext(name)
            if ext.lower() == ".mid" and os.path.exists(os.path.join(a.pairs, stem + ".wav")):
                jobs.append((stem, lambda p, s=stem: make_pair_item(a, os.path.join(a.pairs, s + ".wav"), os.path.join(a.pairs, s + ".mid"), p)))
        if not jobs:
            sys.exit(f"{a.pairs}: no NAME.wav + NAME.mid pairs")
    else:
        for style in a.styles.split(","):
            for seed in seeds(a.seeds):
                jobs.append((f"{style}-{seed}", lambda p, st=style, sd=seed: make_composer_item(a, st, sd, p)))
    # The cache key holds what changes an item, so that a changed length or lane count is rebuilt.
    key = hashlib.sha1(json.dumps([a.seconds, a.lanes, GAIN, os.path.basename(SOUNDFONT), "frame-aligned"]).encode()).hexdigest()[:8]
    made = 0
    for name, make in tqdm(jobs, desc="dataset", unit="item"):
        path = os.path.join(a.out, f"{name}-{key}.safetensors")
        if os.path.exists(path):
            continue
        make(path)
        made += 1
    print(f"dataset: {len(jobs)} items in {a.out} ({made} made, {len(jobs) - made} cached)")


if __name__ == "__main__":
    main()
