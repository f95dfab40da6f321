#!/usr/bin/python3
"""Writes a model's card (models/NAME.md) from what was recorded, so that no figure is typed by
hand: the model file's metadata and provenance, the training run's loss log, and the quality
figures of benchmarks/quality.py.

    training/model_card.py models/small.safetensors --loss training/runs/small/loss.tsv \\
        --quality benchmarks/quality-small.json [--quality AT-ANOTHER-TEMPERATURE.json] --out models/small.md [--notes FILE.md]"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


def loss_rows(path):
    rows = []
    for line in open(path).read().splitlines()[1:]:
        step, seconds, loss, held = (line.split("\t") + [""])[:4]
        rows.append((int(step), float(seconds), float(loss), float(held) if held else None))
    return rows


def sampling(figures):
    """How a quality script's figures were sampled (files from before the tail cut drew from the whole distribution,
    and from before the sustain temperature at one temperature throughout)."""
    held = figures.get("sustain_temperature")
    return (f"temperature {figures['temperature']}, tail cut {figures.get('tail_cut', 0)}"
            + (f", sustain temperature {held}" if held is not None and held < figures["temperature"] else ""))


def main():
    ap = argparse.ArgumentParser(description="Writes a model card from recorded figures.")
    ap.add_argument("model")
    ap.add_argument("--loss", required=True, help="the run's loss.tsv")
    ap.add_argument("--quality", required=True, action="append",
                    help="benchmarks/quality.py --json output; again for the model at other temperatures (the first is the "
                         "daemon's default and gives the ceiling and floor)")
    ap.add_argument("--noise-floor", help="benchmarks/noise_floor.py --json output")
    ap.add_argument("--notes", help="a Markdown file of remarks to append (what limited the run)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    _, meta = safetensors_io.read(a.model)
    spec = json.loads(meta["wavecast"])
    prov = spec.get("provenance", {})
    qs = [json.load(open(path)) for path in a.quality]
    q = qs[0]
    rows = loss_rows(a.loss)
    name = os.path.splitext(os.path.basename(a.model))[0]
    shape = f"R{spec['residual_channels']}-S{spec['skip_channels']}-A{spec['audio_classes']}-L{spec['layers']}"

    out = [f"# Model card: {name}", "",
           f"`{os.path.basename(a.model)}`: {spec['architecture']}, {shape}, dilations 1..{2 ** (spec['dilation_cycle'] - 1)} "
           f"(cycle {spec['dilation_cycle']}), {spec['output']} output, {spec['sample_rate']} Hz, conditioning frames of "
           f"{spec['frame_hop']} samples ({spec['feature_layout']}), "
           + (f"an excitation of {spec['excitation_harmonics']} harmonics, " if spec.get("excitation_harmonics") else "no excitation, ")
           + f"{len(spec['instruments'])} instruments: "
           + ", ".join(f"{i['name']} (GM {i['program']}{', kit' if i['drums'] else ''})" for i in spec["instruments"]) + ".", "",
           "## Training", "",
           f"- data: `{os.path.relpath(prov.get('data', '?'))}`, {prov.get('data_lane_hours', '?')} lane-hours: the composer's "
           "scores (every style) rendered lane by lane through FluidSynth with FluidR3_GM (`training/dataset.py`)",
           f"- steps: {prov.get('steps')} (batch {prov.get('batch')}, segments of {prov.get('segment_frames')} frames after the "
           f"receptive field; {prov.get('samples_seen', 0) / 1e6:.0f} M samples seen), Adam; the last run's learning rate "
           f"{prov.get('lr')}" + (f" decaying to {prov['lr_final']}" if prov.get("lr_final", prov.get("lr")) != prov.get("lr") else "")
           + (f", segments {prov['sampling']}" if prov.get("sampling") else "")
           + (f", noise of {prov['input_noise']} mu-law classes (standard deviation) on the fed-back samples" if prov.get("input_noise") else "")
           + (f", {prov['silent_past'] * 100:.0f} % of segments fed a silent past" if prov.get("silent_past") else "")
           + (f", {prov['warped_past'] * 100:.0f} % a past resampled up to a semitone off" if prov.get("warped_past") else "")
           + (f" and up to {prov['past_lag_ms']:.0f} ms late" if prov.get("past_lag_ms") else "")
           + (f"; each lane's audio scaled to a peak of {prov['level']}" if prov.get("level") else "")
           + (f"; pre-emphasised by 1 - {spec['pre_emphasis']} z^-1 (the engine de-emphasises)" if spec.get("pre_emphasis") else ""),
           f"- wall time: {prov.get('wall_minutes')} min on {prov.get('hardware')}, PyTorch {prov.get('torch')}, commit "
           f"{prov.get('commit')}"]
    if prov.get("widened_from"):
        out.append(f"- grown from `{os.path.relpath(prov['widened_from'])}` ({prov.get('widened_from_shape')}) at step "
                   f"{prov.get('widened_at_step')} by `training/widen.py` (the new channels and layers start contributing "
                   "nothing, so training went on from that model's output); steps and wall time count both shapes' training")
    out += [f"- final loss (cross-entropy, nats per sample): {prov.get('loss')} training, {prov.get('held_out_loss')} held-out "
           "(composer seed 1000, never trained on); a uniform guess over 256 classes is 5.55", "",
           "Loss curve (every ~10 % of the run):", "", "| step | minutes | training loss | held-out loss |", "|---|---|---|---|"]
    stride = max(1, len(rows) // 10)
    for r in rows[::stride] + ([rows[-1]] if (len(rows) - 1) % stride else []):
        out.append(f"| {r[0]} | {r[1] / 60:.1f} | {r[2]:.3f} | {'' if r[3] is None else f'{r[3]:.3f}'} |")
    f = q["figures"]
    out += ["", "## Quality", "",
            f"`benchmarks/quality.py --model {a.model}`: {q['melodies_per_part']} held-out monophonic melodies per part "
            f"(composer seeds from 2000), rendered at {sampling(q)}; note F1 with a {q['tolerance_s'] * 1000:.0f} ms "
            "onset tolerance and equal pitch (aubio onsets and YIN pitch); distances to FluidSynth's render after matching RMS.", "",
            "| system | note F1 lead | note F1 bass | note F1 | pitch accuracy (lead / bass) | MR-STFT distance | log-spectral distance (dB) |",
            "|---|---|---|---|---|---|---|"]
    rows = [("FluidSynth (ceiling)", f["fluidsynth"]), (f"{name}, {sampling(q)}", f["model"])]
    rows += [(f"{name}, {sampling(other)}", other["figures"]["model"]) for other in qs[1:]]
    rows += [("random weights (floor)", f["random"])]
    for label, s in rows:
        acc = f"{s['pitch_accuracy']:.2f}" if "pitch_accuracy" in s else "-"
        if "pitch_accuracy_lead" in s:
            acc += f" ({s['pitch_accuracy_lead']:.2f} / {s['pitch_accuracy_bass']:.2f})"
        out.append(f"| {label} | {s['note_f1_lead']:.2f} | {s['note_f1_bass']:.2f} | {s['note_f1']:.2f} | {acc} | {s['mr_stft']:.2f} | {s['lsd_db']:.1f} |")
    if a.noise_floor:
        nf = json.load(open(a.noise_floor))
        out += ["", "## Noise floor", "",
                f"`benchmarks/noise_floor.py --model {a.model}`: {nf['notes_per_instrument']} sustained notes of 1 s per "
                f"instrument, rendered at {sampling(nf)}; harmonic-to-noise ratio in the middle of each note "
                "(median), and the level of the silences (RMS; -200 dBFS is digital silence) before the first note and in the "
                "rests from 1.5 s after each note.", "",
                "| instrument | system | harmonic-to-noise (dB) | lead-in (dBFS) | rests (dBFS) |", "|---|---|---|---|---|"]
        for inst in nf["figures"]["model"]:
            for system, label in (("fluidsynth", "FluidSynth (ceiling)"), ("model", name), ("random", "random weights (floor)")):
                m = nf["figures"][system][inst]
                out.append(f"| {inst} | {label} | {m['hnr_db']:.1f} | {m['lead_in_dbfs']:.0f} | {m['rests_dbfs']:.0f} |")
    if a.notes:
        out += ["", open(a.notes).read().strip()]
    with open(a.out, "w") as fh:
        fh.write("\n".join(out) + "\n")
    print(f"model_card: wrote {a.out}")


if __name__ == "__main__":
    main()
