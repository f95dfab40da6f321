"""Reads what `wavecastd export` writes: the conditioning frames the engine feeds the network,
so that training pairs audio with exactly what the model will see when it plays.

    features, instruments, meta = load("techno.safetensors")
    features:    float32 [frames, lanes, 258], notes-v1 (kernels/frame_features.h)
    instruments: float32 [frames, lanes, N], each lane's weights over meta["instrument_table"]
    meta:        layout, sample_rate, frame_hop, lanes, frames, seed, tempo, source, tracks, ...

Also a command: `python3 training/wavecast_export.py FILE` prints a summary as JSON.
Uses Debian's python3-numpy only (safetensors is read by hand: a little-endian u64 header
length, a JSON header, then the raw tensors)."""

import json
import struct
import sys

import numpy as np

PITCHES = 128
VELOCITY, ONSET, AGE, ACTIVE = 0, PITCHES, 2 * PITCHES, 2 * PITCHES + 1
FEATURES = 2 * PITCHES + 2


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: truncated")
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = json.loads(header.get("__metadata__", {}).get("wavecast_export", "null") or "null")
    if not meta or meta.get("layout") != "notes-v1":
        raise ValueError(f"{path}: not a wavecast export (no notes-v1 'wavecast_export' metadata)")
    data = raw[8 + n:]
    tensors = {}
    for name in ("features", "instruments"):
        t = header[name]
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {t['dtype']}, not F32")
        begin, end = t["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(t["shape"])
    if tensors["features"].shape[2] != FEATURES:
        raise ValueError(f"{path}: features have {tensors['features'].shape[2]} per frame, not {FEATURES}")
    return tensors["features"], tensors["instruments"], meta


def onsets(features, lane):
    """(frame, pitch) of each note that starts on `lane`."""
    frames, pitches = np.nonzero(features[:, lane, ONSET:ONSET + PITCHES] > 0)
    return list(zip(frames.tolist(), pitches.tolist()))


if __name__ == "__main__":
    feats, instr, meta = load(sys.argv[1])
    print(json.dumps({
        "frames": feats.shape[0], "lanes": feats.shape[1], "sample_rate": meta["sample_rate"], "frame_hop": meta["frame_hop"],
        "tracks": [t["name"] for t in meta["tracks"]],
        "onsets": [len(onsets(feats, b)) for b in range(feats.shape[1])],
        "instrument": [int(np.argmax(instr[0, b])) for b in range(feats.shape[1])],
        "sum": float(np.float64(feats.sum())),
    }))
