#!/usr/bin/python3
"""Quality figures of a model on held-out scores (composer seeds never used in training):

  (a) note accuracy: monophonic melodies of the lead and bass tracks, rendered by the model
      (`wavecastd render --score`), transcribed with aubio, note F1 with a 50 ms onset tolerance
      and equal pitch;
  (b) distance to FluidSynth's render of the same score: multi-resolution STFT distance
      (spectral convergence + log-magnitude L1, FFT 512/1024/2048, hop 1/4) and log-spectral
      distance (dB), both after matching RMS, so that loudness normalisation does not count;
  (c) the same for FluidSynth itself (the ceiling) and for a seeded random-weight model (the floor);
  (d) pitch accuracy: the share of the melodies' notes whose median pitch in their first 150 ms
      is the note's, onsets aside (a model can play in tune and still confuse an onset detector).

    benchmarks/quality.py --model models/small.safetensors [--melodies 8] [--temperature T] [--tail-cut C] [--json out.json]

The transcription uses aubio's onset detector (aubioonset, hop 2 ms) and pitch tracker
(aubiopitch, YIN, 1024-sample window: on FluidSynth's renders yinfft made octave errors on the
square lead), each onset given the median pitch of the voiced frames
from 20 ms after it to 150 ms after it (or the next onset). aubionotes is not used: on
FluidSynth's own renders it reported onsets 90-140 ms late, or with the previous note's pitch
(its note-level median window), which would fail a 50 ms tolerance for reasons that are aubio's.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib

import mido
import numpy as np
import scipy.io.wavfile
import scipy.signal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "training"))
import dataset  # noqa: E402  (the FluidSynth settings the training data was made with)

RATE = 16000
LEAD_IN = 0.5  # seconds of silence before the first note, so that its onset can be detected
TOLERANCE = 0.05
PARTS = {"lead": 80, "bass": 33}  # role -> the GM program the melody is played on (lead_square, electric_bass)
REGISTER = {"lead": 72, "bass": 43}  # median MIDI pitch a melody is moved to, by octaves
STYLES = ["techno", "house", "dnb", "lofi", "jazz_trio", "cinematic"]


def run(cmd, timeout=600):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


def melodies(a, tmp):
    """Monophonic held-out melodies: (role, [(onset_s, end_s, pitch, velocity)]) from the composer's
    lead and bass tracks at seeds from 2000 (training uses 1-999, the held-out loss 1000)."""
    out = {role: [] for role in PARTS}
    seed = 2000
    while any(len(v) < a.melodies for v in out.values()) and seed < 2400:
        style = STYLES[seed % len(STYLES)]
        mid = os.path.join(tmp, f"src-{seed}.mid")
        run([a.wavecastd, "--config", a.config, "export", "--style", style, "--seconds", str(a.seconds), "--seed", str(seed),
             "--out", os.path.join(tmp, "frames.safetensors"), "--midi", mid])
        src = mido.MidiFile(mid)
        tempo = next(m.tempo for m in src.tracks[0] if m.type == "set_tempo")
        for track in src.tracks[1:]:
            role = next((m.name for m in track if m.type == "track_name"), "")
            if role not in PARTS or len(out[role]) >= a.melodies:
                continue
            notes, now, open_ = [], 0, {}
            for m in track:
                now += m.time
                t = mido.tick2second(now, src.ticks_per_beat, tempo)
                if m.type == "note_on" and m.velocity > 0:
                    open_[m.note] = (t, m.velocity)
                elif m.type in ("note_off", "note_on") and m.note in open_:
                    start, vel = open_.pop(m.note)
                    notes.append([start, t, m.note, vel])
            notes.sort()
            mono = []
            for n in notes:  # one note at a time, 100 ms apart at least: a melody, not a chord
                if mono and n[0] < mono[-1][0] + 0.1:
                    continue
                if mono:
                    mono[-1][1] = min(mono[-1][1], n[0])
                mono.append(n)
            if len(mono) >= 8:
                # Whole octaves into the part's usual register (some styles play their lead two
                # octaves up, where a 16 kHz model's band ends below the second harmonic).
                shift = 12 * int(np.round((REGISTER[role] - np.median([n[2] for n in mono])) / 12))
                out[role].append([(s + LEAD_IN, e + LEAD_IN, p + shift, v) for s, e, p, v in mono])
        seed += 1
    return out


def write_melody(path, notes, program):
    f = mido.MidiFile(type=0, ticks_per_beat=480)
    t = mido.MidiTrack()
    f.tracks.append(t)
    t.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))  # 120 bpm: 960 ticks per second
    t.append(mido.Message("program_change", program=program, time=0))
    events = [(s, 1, p, v) for s, _, p, v in notes] + [(e, 0, p, 0) for _, e, p, _ in notes]
    last = 0
    for time, on, p, v in sorted(events):
        tick = int(round(time * 960))
        t.append(mido.Message("note_on" if on else "note_off", note=p, velocity=v, time=tick - last))
        last = tick
    f.save(path)


def read_wav(path):
    rate, x = scipy.io.wavfile.read(path)
    x = x / float(np.iinfo(x.dtype).max) if x.dtype.kind in "iu" else x.astype(np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != RATE:
        g = np.gcd(rate, RATE)
        x = scipy.signal.resample_poly(x, RATE // g, rate // g)
    return x


def pitch_track(wav):
    """[frames, 2]: time, YIN pitch (MIDI; 0 unvoiced)."""
    return np.array([[float(v) for v in line.split()] for line in
                     run(["aubiopitch", "-i", wav, "-u", "midi", "-p", "yin", "-B", "1024", "-H", "128"]).strip().splitlines()])


def pitch_accuracy(reference, frames):
    """Share of the reference notes whose median voiced pitch, from 20 ms after the note's start
    to 150 ms after it (or its end), is the note's: whether the notes are in tune, whatever an
    onset detector makes of the audio."""
    hits = 0
    for s, e, p, _ in reference:
        sel = (frames[:, 0] >= s + 0.02) & (frames[:, 0] < max(min(e, s + 0.15), s + 0.03)) & (frames[:, 1] > 0)
        hits += bool(sel.any()) and int(np.round(np.median(frames[sel, 1]))) == p
    return hits / len(reference) if reference else 0.0


def transcribe(wav, frames=None):
    onsets = [float(v) for v in run(["aubioonset", "-i", wav, "-B", "512", "-H", "32"]).split()]
    frames = pitch_track(wav) if frames is None else frames
    notes = []
    for i, t in enumerate(onsets):
        stop = min(t + 0.15, onsets[i + 1] if i + 1 < len(onsets) else t + 0.15)
        sel = (frames[:, 0] >= t + 0.02) & (frames[:, 0] < max(stop, t + 0.03)) & (frames[:, 1] > 0)
        if sel.any():
            notes.append((t, int(np.round(np.median(frames[sel, 1])))))
    return notes


def f1(reference, detected):
    """Note F1: a detected note matches an unmatched reference note of equal pitch whose onset is
    within the tolerance (nearest first)."""
    used, hits = set(), 0
    for t, p in detected:
        best = None
        for i, (s, _, q, _) in enumerate(reference):
            if i not in used and q == p and abs(s - t) <= TOLERANCE and (best is None or abs(s - t) < abs(reference[best][0] - t)):
                best = i
        if best is not None:
            used.add(best)
            hits += 1
    precision = hits / len(detected) if detected else 0.0
    recall = hits / len(reference) if reference else 0.0
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def stft_mag(x, n):
    _, _, z = scipy.signal.stft(x, nperseg=n, noverlap=n - n // 4, window="hann", boundary=None, padded=False)
    return np.abs(z)


def distances(ref, x):
    n = min(len(ref), len(x))
    ref, x = ref[:n], x[:n]
    x = x * (np.sqrt(np.mean(ref ** 2)) / max(np.sqrt(np.mean(x ** 2)), 1e-9))
    mr = 0.0
    for size in (512, 1024, 2048):
        r, m = stft_mag(ref, size), stft_mag(x, size)
        mr += np.linalg.norm(r - m) / max(np.linalg.norm(r), 1e-9) + np.mean(np.abs(np.log(r + 1e-5) - np.log(m + 1e-5)))
    r, m = stft_mag(ref, 1024) ** 2, stft_mag(x, 1024) ** 2
    lsd = np.mean(np.sqrt(np.mean((10 * np.log10(r + 1e-10) - 10 * np.log10(m + 1e-10)) ** 2, axis=0)))
    return mr / 3, float(lsd)


def config_for_model(config, model, path):
    """Writes to `path` the config with `model` in place of its models, its other settings kept
    (its relative paths made absolute, as the copy lives elsewhere); returns `path`."""
    here = os.path.dirname(os.path.abspath(config))
    lines = []
    for line in open(config).read().splitlines():
        key = line.split("=")[0].strip()
        if "=" in line and key in ("model", "fallback_model"):
            continue
        if "=" in line and key in ("styles", "models"):
            line = f'{key} = "{os.path.join(here, line.split("=", 1)[1].strip().strip(chr(34)))}"'
        lines.append(line)
        if line.strip() == "[daemon]":
            lines += [f'model = "{os.path.abspath(model)}"', f'fallback_model = "{os.path.abspath(model)}"']
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def render_model(a, model, mid, seconds, out, extra=()):
    """The score through the engine's own offline path, on `model`, with the config's other settings."""
    config = config_for_model(a.config, model, out + ".toml")
    run([a.wavecastd, "--config", config, "render", "--score", mid, "--seconds", f"{seconds:.2f}", "--seed", "1",
         "--temperature", str(a.temperature), "--tail-cut", str(a.tail_cut), "--sustain-temperature",
         str(a.sustain_temperature), "--masking-db", "-100", "--out", out, *extra])


def print_result(result, path=None):
    """The figures as JSON on stdout, and in `path` when given."""
    print(json.dumps(result, indent=1))
    if path:
        with open(path, "w") as f:
            json.dump(result, f, indent=1)


def config_param(config, name, default):
    """A live parameter of the daemon's main stream (the config's first [[stream]]): what it plays at."""
    with open(config, "rb") as f:
        streams = tomllib.load(f).get("stream", [])
    return float((streams[0] if streams else {}).get("params", {}).get(name, default))


def sampling_options(ap):
    ap.add_argument("--temperature", type=float, help="sampling temperature (default: the config's, what the daemon plays at)")
    ap.add_argument("--tail-cut", type=float, help="the sampling's tail cut (default: the config's, else the parameter's 0)")
    ap.add_argument("--sustain-temperature", type=float,
                    help="the most the temperature is once a note has sounded 0.1 s (default: the config's, else the parameter's 0)")


def sampling_defaults(a):
    """Unset sampling options take what the daemon plays at (protocol/params.h's defaults)."""
    if a.temperature is None:
        a.temperature = config_param(a.config, "temperature", 1.0)
    if a.tail_cut is None:
        a.tail_cut = config_param(a.config, "tail_cut", 0.0)
    if a.sustain_temperature is None:
        a.sustain_temperature = config_param(a.config, "sustain_temperature", 0.0)


def random_model_like(tool, model, out):
    """A seeded random-weight model of `model`'s named shape (small where it has none), written to `out`."""
    shape = json.loads(run([tool, "info", model]))["shape"]
    name = {"R32-S64-A256-L10": "small", "R64-S128-A256-L20": "medium"}.get(shape, "small")
    run([tool, "random", "--shape", name, "--seed", "1", "--out", out])
    return out


def main():
    ap = argparse.ArgumentParser(description="Note F1 and spectral distances of a model on held-out melodies.")
    ap.add_argument("--model", required=True)
    ap.add_argument("--random", help="the floor: a random-weight model of the same shape (default: made here)")
    ap.add_argument("--melodies", type=int, default=8, help="per part (lead, bass)")
    ap.add_argument("--seconds", type=float, default=12.0, help="of composer score each melody is taken from")
    sampling_options(ap)
    ap.add_argument("--config", default=os.path.join(ROOT, "config/wavecastd.toml"))
    ap.add_argument("--wavecastd", default=os.path.join(ROOT, "build/daemon/wavecastd"))
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    sampling_defaults(a)

    with tempfile.TemporaryDirectory() as tmp:
        random_model = a.random or random_model_like(os.path.join(ROOT, "build/tools/wavecast-model"), a.model,
                                                     os.path.join(tmp, "random.safetensors"))
        systems = {"fluidsynth": None, "model": a.model, "random": random_model}
        scores = {s: {role: [] for role in PARTS} for s in systems}
        in_tune = {s: {role: [] for role in PARTS} for s in systems}
        dist = {s: [] for s in systems}
        for role, mels in melodies(a, tmp).items():
            for i, notes in enumerate(mels):
                mid = os.path.join(tmp, f"{role}{i}.mid")
                write_melody(mid, notes, PARTS[role])
                seconds = notes[-1][1] + 0.5
                ref = None
                for system, model in systems.items():
                    wav = os.path.join(tmp, f"{role}{i}-{system}.wav")
                    if model is None:
                        x = dataset.fluidsynth(mid, RATE, int(seconds * RATE))
                        scipy.io.wavfile.write(wav, RATE, x.astype(np.float32))
                    else:
                        render_model(a, model, mid, seconds, wav)
                    x = read_wav(wav)
                    ref = x if model is None else ref
                    track = pitch_track(wav)
                    scores[system][role].append(f1(notes, transcribe(wav, track)))
                    in_tune[system][role].append(pitch_accuracy(notes, track))
                    dist[system].append(distances(ref, x))
                print(f"quality: {role} {i}: " + ", ".join(f"{s} F1 {scores[s][role][-1]:.2f}" for s in systems), file=sys.stderr)
    figures = {}
    for s in systems:
        d = np.array(dist[s])
        figures[s] = {"note_f1_lead": float(np.mean(scores[s]["lead"])), "note_f1_bass": float(np.mean(scores[s]["bass"])),
                      "note_f1": float(np.mean(scores[s]["lead"] + scores[s]["bass"])),
                      "pitch_accuracy": float(np.mean(in_tune[s]["lead"] + in_tune[s]["bass"])),
                      "pitch_accuracy_lead": float(np.mean(in_tune[s]["lead"])), "pitch_accuracy_bass": float(np.mean(in_tune[s]["bass"])),
                      "mr_stft": float(d[:, 0].mean()), "lsd_db": float(d[:, 1].mean())}
    result = {"model": a.model, "melodies_per_part": a.melodies, "temperature": a.temperature, "tail_cut": a.tail_cut,
              "sustain_temperature": a.sustain_temperature,
              "tolerance_s": TOLERANCE, "figures": figures}
    print_result(result, a.json)


if __name__ == "__main__":
    main()
