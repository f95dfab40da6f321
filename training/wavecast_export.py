"""Reads what `wavecastd export` writes: the conditioning frames the engine feeds the network,
so that training pairs audio with exactly what the model will see when it plays.

    features, instruments, meta = load("techno.safetensors")
    features:    float32 [frames, lanes, 258], notes-v1 (kernels/frame_features.h)
    instruments: float32 [frames, lanes, N], each lane's weights over meta["instrument_table"]
    meta:        layout, sample_rate, frame_hop, lanes, frames, seed, tempo, source, tracks, ...

Also a command: `python3 training/wavecast_export.py FILE` prints a summary as JSON.
Uses Debian's python3-numpy only (the container is read by safetensors_io.py)."""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

PITCHES = 128
VELOCITY, ONSET, AGE, ACTIVE = 0, PITCHES, 2 * PITCHES, 2 * PITCHES + 1
FEATURES = 2 * PITCHES + 2


def load(path):
    tensors, metadata = safetensors_io.read(path)
    meta = json.loads(metadata.get("wavecast_export", "null") or "null")
    if not meta or meta.get("layout") != "notes-v1":
        raise ValueError(f"{path}: not a wavecast export (no notes-v1 'wavecast_export' metadata)")
    for name in ("features", "instruments"):
        if name not in tensors or tensors[name].dtype != np.dtype("<f4"):
            raise ValueError(f"{path}: no float32 tensor '{name}'")
    if tensors["features"].shape[2] != FEATURES:
        raise ValueError(f"{path}: features have {tensors['features'].shape[2]} per frame, not {FEATURES}")
    return tensors["features"], tensors["instruments"], meta


def onsets(features, lane):
    """(frame, pitch) of each note that starts on `lane`."""
    frames, pitches = np.nonzero(features[:, lane, ONSET:ONSET + PITCHES] > 0)
    return list(zip(frames.tolist(), pitches.tolist()))


def note_starts(features, lane):
    """[frames, 128] bool: where a note of that pitch starts on `lane`, the rule the engine's
    excitation keeps its phase by (kernels/excitation.h): a pitch starts in a frame where it
    sounds and either has its onset flag or did not sound in the frame before (or it is the
    first frame)."""
    vel = features[:, lane, VELOCITY:VELOCITY + PITCHES] > 0
    onset = features[:, lane, ONSET:ONSET + PITCHES] > 0
    before = np.concatenate([np.zeros((1, PITCHES), dtype=bool), vel[:-1]])
    return vel & (onset | ~before)


def start_frames(features, lane):
    """[frames, 128] int64: the frame in which the note sounding at each frame and pitch started
    (note_starts), -1 where the pitch is silent."""
    starts = note_starts(features, lane)
    last = np.maximum.accumulate(np.where(starts, np.arange(starts.shape[0])[:, None], -1), axis=0)
    return np.where(features[:, lane, VELOCITY:VELOCITY + PITCHES] > 0, last, -1)


def notes(features, lane):
    """The notes `lane` plays, whole frames each: (start_frame, end_frame, pitch, velocity 1..127),
    a note running from its start (note_starts) to the next start of its pitch or the first frame
    it is silent, with the velocity of its first frame."""
    vel = features[:, lane, VELOCITY:VELOCITY + PITCHES]
    starts = note_starts(features, lane)
    frames = vel.shape[0]
    out = []
    for pitch in np.nonzero(starts.any(axis=0))[0]:
        sounding = vel[:, pitch] > 0
        for k in np.nonzero(starts[:, pitch])[0]:
            end = k + 1
            while end < frames and sounding[end] and not starts[end, pitch]:
                end += 1
            out.append((int(k), int(end), int(pitch), int(max(1, min(127, round(float(vel[k, pitch]) * 127))))))
    return sorted(out)


if __name__ == "__main__":
    feats, instr, meta = load(sys.argv[1])
    print(json.dumps({
        "frames": feats.shape[0], "lanes": feats.shape[1], "sample_rate": meta["sample_rate"], "frame_hop": meta["frame_hop"],
        "tracks": [t["name"] for t in meta["tracks"]],
        "onsets": [len(onsets(feats, b)) for b in range(feats.shape[1])],
        "instrument": [int(np.argmax(instr[0, b])) for b in range(feats.shape[1])],
        "sum": float(np.float64(feats.sum())),
    }))
