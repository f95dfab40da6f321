#!/usr/bin/python3
"""Packs dataset items (training/dataset.py) into one compact file that train.py reads as it
reads a folder of items: a GPU machine without FluidSynth or its soundfont can then train on the
same music.

    training/pack.py training/data/train --out train.pack --max-mib 14

What training uses of an item is its audio as mu-law classes, never the float samples (train.py
encodes them on load), so the pack keeps the classes (for --classes, the model's; 256 by default)
as bytes, with the features and instruments,
each item in an xz stream of its own: a 60-second item of four lanes is 19 MB as float32 items and about 0.4 MB
packed (silent and quiet stretches are runs of the middle class). Items are taken in turn from
each style (ambient-1, cinematic-1, ..., ambient-2, ...) until the next would pass --max-mib, so a
smaller pack still holds every style."""

import argparse
import glob
import io
import lzma
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import wavenet  # noqa: E402

FORMAT = "wavecast-pack-1"


def item_arrays(path, classes, pre_emphasis=0.0, level=0.0):
    t, meta = safetensors_io.read(path)
    audio = wavenet.mulaw_encode(wavenet.training_audio(t["audio"], pre_emphasis, level), classes).astype(np.uint8)
    return audio, np.asarray(t["features"], dtype=np.float32), np.asarray(t["instruments"], dtype=np.float32), meta["wavecast_export"]


def round_robin(paths):
    """Paths ordered one per style at a time (names are STYLE-SEED-KEY.safetensors)."""
    by_style = {}
    for p in sorted(paths):
        by_style.setdefault(os.path.basename(p).split("-")[0], []).append(p)
    out = []
    while any(by_style.values()):
        for style in sorted(by_style):
            if by_style[style]:
                out.append(by_style[style].pop(0))
    return out


def compressed_item(path, classes, pre_emphasis, level):
    c, f, i, meta = item_arrays(path, classes, pre_emphasis, level)
    buf = io.BytesIO()
    np.savez(buf, classes=c, features=f, instruments=i, meta=np.array(meta))
    return np.frombuffer(lzma.compress(buf.getvalue(), preset=6), dtype=np.uint8)


def pack(paths, max_bytes, classes, pre_emphasis=0.0, level=0.0):
    """{name: array} of the pack and the items in it, up to max_bytes of items (0: no limit)."""
    blobs, used, total = {}, [], 0
    for p in round_robin(paths):
        blob = compressed_item(p, classes, pre_emphasis, level)
        if max_bytes and total + blob.nbytes > max_bytes:
            break
        blobs[f"item_{len(used)}"] = blob
        used.append(p)
        total += blob.nbytes
    return blobs, used


def load(path, classes, pre_emphasis=0.0, level=0.0):
    """[(mu-law classes uint8 [lanes, samples], features, instruments, export metadata (JSON text))],
    the audio packed for `classes` (a model's audio_classes) and made into what the network plays
    with `pre_emphasis` and `level` (wavenet.training_audio): the classes cannot be made again."""
    outer = np.load(path)
    if "format" not in outer or str(outer["format"]) != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    if int(outer["classes"]) != classes:
        raise ValueError(f"{path}: its audio is packed as {int(outer['classes'])} mu-law classes; the model has {classes} "
                         f"(pack.py --classes {classes})")
    for key, want in (("pre_emphasis", pre_emphasis), ("level", level)):
        have = float(outer[key]) if key in outer else 0.0
        if have != want:
            raise ValueError(f"{path}: its audio is packed with {key} {have}, the training asks for {want} "
                             f"(pack.py --{key.replace('_', '-')} {want})")
    items = []
    for k in range(int(outer["count"])):
        inner = np.load(io.BytesIO(lzma.decompress(outer[f"item_{k}"].tobytes())))
        items.append((inner["classes"], inner["features"], inner["instruments"], str(inner["meta"])))
    return items


def main():
    ap = argparse.ArgumentParser(description="Packs dataset items into one compact file for train.py.")
    ap.add_argument("folder", help="dataset items (training/dataset.py --out)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-mib", type=float, default=0, help="stop adding items before the pack passes this size (0: all)")
    ap.add_argument("--classes", type=int, default=256, help="the mu-law classes of the models it trains (the shipped ones: 256)")
    ap.add_argument("--pre-emphasis", type=float, default=0.0, help="as train.py's: the audio packed pre-emphasised")
    ap.add_argument("--level", type=float, default=0.0, help="as train.py's: each lane packed scaled to this peak")
    a = ap.parse_args()
    paths = glob.glob(os.path.join(a.folder, "*.safetensors"))
    if not paths:
        raise SystemExit(f"{a.folder}: no dataset items")
    if not 2 <= a.classes <= 256:
        raise SystemExit("--classes: 2..256 (one byte a sample)")
    blobs, used = pack(paths, int(a.max_mib * 2**20), a.classes, a.pre_emphasis, a.level)
    if not used:
        raise SystemExit(f"not even one item fits in {a.max_mib} MiB")
    tmp = a.out + ".tmp.npz"
    np.savez(tmp, format=np.array(FORMAT), classes=np.array(a.classes), count=np.array(len(used)),
             pre_emphasis=np.array(a.pre_emphasis), level=np.array(a.level), **blobs)
    os.replace(tmp, a.out)
    print(f"pack: {len(used)} of {len(paths)} items ({', '.join(os.path.basename(p).split('-')[0] + '-' + os.path.basename(p).split('-')[1] for p in used[:3])}, ...), "
          f"{os.path.getsize(a.out) / 2**20:.1f} MiB -> {a.out}")


if __name__ == "__main__":
    main()
