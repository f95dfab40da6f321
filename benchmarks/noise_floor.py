#!/usr/bin/python3
"""How clean the instruments sound: per instrument, for FluidSynth (the ceiling), a model and a
seeded random-weight model of its shape (the floor):

  harmonic-to-noise ratio (dB) of sustained notes: in the middle 0.4 s of each 1 s note, the energy
      within 3 % of each harmonic of the note below 7 kHz over the rest of 60 Hz to 7 kHz (one
      Hann-windowed FFT of the span); the median over the notes;
  the level of the silences (dBFS RMS; -200 stands for digital silence): the lead-in before the
      first note, and the rests between notes from 1.5 s after a note ends (FluidSynth's longest
      tail, the pad's, is below -80 dBFS by 1.3 s) to 0.1 s before the next begins.

Each instrument plays one score of single notes at pitches of its register, through the engine's
own offline path (`wavecastd render --score`, 24-bit; the config's sampling and post tier,
masking off as in quality.py). Note F1 and the spectral distances on held-out melodies are
quality.py's.

    benchmarks/noise_floor.py --model models/small.safetensors [--json out.json]
"""

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality  # noqa: E402  (the render path, the config's temperature, FluidSynth's settings)

RATE = quality.RATE
LEAD_IN, NOTE, GAP, VELOCITY = 1.0, 1.0, 3.0, 100
QUIET_AFTER = 1.5  # seconds after a note ends that a rest counts as silence
INSTRUMENTS = {  # name: (GM program, pitches)
    "piano": (0, [48, 55, 60, 64, 67, 72]),
    "bass": (33, [28, 33, 36, 40, 43, 45]),
    "pad": (89, [48, 53, 57, 60, 65, 69]),
}


def hnr_db(x, pitch):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / RATE)
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    band = (freqs >= 60) & (freqs <= 7000)
    harmonic = np.zeros_like(band)
    for h in range(1, int(7000 // f0) + 1):
        harmonic |= np.abs(freqs - h * f0) <= 0.03 * h * f0
    harmonic &= band
    return float(10 * np.log10((spectrum[harmonic].sum() + 1e-30) / (spectrum[band & ~harmonic].sum() + 1e-30)))


def level_dbfs(x):
    rms = float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0
    return max(-200.0, 20 * np.log10(rms)) if rms > 0 else -200.0


def measure(x, notes):
    hnr = [hnr_db(x[int((s + 0.3) * RATE):int((s + 0.7) * RATE)], p) for s, _, p, _ in notes]
    rests = np.concatenate([x[int((e + QUIET_AFTER) * RATE):int((n[0] - 0.1) * RATE)] for (_, e, _, _), n in zip(notes, notes[1:])])
    return {"hnr_db": float(np.median(hnr)), "lead_in_dbfs": level_dbfs(x[int(0.1 * RATE):int((LEAD_IN - 0.1) * RATE)]),
            "rests_dbfs": level_dbfs(rests)}


def main():
    ap = argparse.ArgumentParser(description="Harmonic-to-noise of sustained notes and the level of silences, per instrument.")
    ap.add_argument("--model", required=True)
    ap.add_argument("--random", help="the floor: a random-weight model of the same shape (default: made here)")
    quality.sampling_options(ap)
    ap.add_argument("--config", default=os.path.join(quality.ROOT, "config/wavecastd.toml"))
    ap.add_argument("--wavecastd", default=os.path.join(quality.ROOT, "build/daemon/wavecastd"))
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    quality.sampling_defaults(a)
    tool = os.path.join(quality.ROOT, "build/tools/wavecast-model")
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        random_model = a.random or quality.random_model_like(tool, a.model, os.path.join(tmp, "random.safetensors"))
        systems = {"fluidsynth": None, "model": a.model, "random": random_model}
        for name, (program, pitches) in INSTRUMENTS.items():
            notes = [(LEAD_IN + i * (NOTE + GAP), LEAD_IN + i * (NOTE + GAP) + NOTE, p, VELOCITY) for i, p in enumerate(pitches)]
            seconds = notes[-1][1] + GAP
            mid = os.path.join(tmp, f"{name}.mid")
            quality.write_melody(mid, notes, program)
            for system, model in systems.items():
                wav = os.path.join(tmp, f"{name}-{system}.wav")
                if model is None:
                    x = quality.dataset.fluidsynth(mid, RATE, int(seconds * RATE)).astype(np.float64)
                else:
                    quality.render_model(a, model, mid, seconds, wav, ["--bits", "24"])
                    x = quality.read_wav(wav)
                figures.setdefault(system, {})[name] = measure(x, notes)
                print(f"noise_floor: {name} {system}: {figures[system][name]}", file=sys.stderr)
    result = {"model": a.model, "temperature": a.temperature, "tail_cut": a.tail_cut, "sustain_temperature": a.sustain_temperature,
              "notes_per_instrument": len(pitches), "figures": figures}
    quality.print_result(result, a.json)


if __name__ == "__main__":
    main()
