"""The safetensors container, read and written with numpy alone (Debian has no python3-safetensors):
an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and byte
range (plus a string-to-string `__metadata__`), then the raw little-endian data."""

import json
import os
import struct

import numpy as np

_DTYPES = {"F32": "<f4", "F16": "<f2", "I32": "<i4", "I64": "<i8"}


def read(path):
    """(tensors: {name: np.ndarray}, metadata: {str: str}); raises ValueError naming the path."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: truncated (no header length)")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: truncated (header of {n} bytes)")
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    tensors = {}
    for name, t in header.items():
        if t["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {t['dtype']}")
        begin, end = t["data_offsets"]
        if end > len(data):
            raise ValueError(f"{path}: tensor {name} runs past the end of the file")
        tensors[name] = np.frombuffer(data[begin:end], dtype=_DTYPES[t["dtype"]]).reshape(t["shape"])
    return tensors, metadata


def write(path, tensors, metadata):
    """Writes float arrays as F32 and integer arrays as I32, atomically (a temp file renamed)."""
    header, blobs, offset = {"__metadata__": {k: str(v) for k, v in metadata.items()}}, [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        a = np.ascontiguousarray(a, dtype="<i4" if np.issubdtype(a.dtype, np.integer) else "<f4")
        blob = a.tobytes()
        header[name] = {"dtype": "I32" if a.dtype.kind == "i" else "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the format recommends
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)
