"""Audio file readers: RIFF WAV (PCM) and NIST SPHERE (uncompressed PCM), to float32 mono in [-1, 1].

SPHERE (the TIDIGITS/TIMIT container): an ASCII header ``NIST_1A\\n   1024\\n`` followed by
``name -type value`` lines up to ``end_head``, padded to the header size, then the samples.
``sample_coding`` other than plain PCM (LDC's ``pcm,embedded-shorten-v*`` compression, ulaw,
wavpack) cannot be decoded here: :class:`SphereCompressed` says so and how to convert.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class SphereCompressed(ValueError):
    """A SPHERE file whose samples are compressed (shorten etc.) and need an external decoder."""


def read_sphere_header(data: bytes, path: Path | str = "<bytes>") -> tuple[int, dict[str, int | float | str]]:
    """(header size in bytes, fields) of a NIST SPHERE file."""
    if not data.startswith(b"NIST_1A"):
        raise ValueError(f"{path}: not a NIST SPHERE file (no NIST_1A magic)")
    lines = data[:4096].split(b"\n")
    try:
        size = int(lines[1].strip())
    except (IndexError, ValueError):
        raise ValueError(f"{path}: malformed SPHERE header size line") from None
    fields: dict[str, int | float | str] = {}
    for raw in data[:size].split(b"\n")[2:]:
        line = raw.decode("ascii", "replace").strip()
        if line == "end_head":
            break
        parts = line.split(None, 2)
        if len(parts) < 3:
            continue
        name, typ, value = parts
        if typ == "-i":
            fields[name] = int(value)
        elif typ == "-r":
            fields[name] = float(value)
        else:  # -sN: string of N characters
            n = int(typ[2:]) if typ[2:].isdigit() else len(value)
            fields[name] = value[:n]
    return size, fields


def read_sphere(path: Path) -> tuple[np.ndarray, int]:
    data = Path(path).read_bytes()
    size, h = read_sphere_header(data, path)
    coding = str(h.get("sample_coding", "pcm")).lower()
    if coding != "pcm":
        raise SphereCompressed(
            f"{path}: SPHERE sample_coding {coding!r} is compressed and cannot be read without its decoder; "
            "convert the corpus to plain PCM first, e.g. with LDC's sph2pipe: "
            "sph2pipe -f wav IN.wav OUT.wav (keep the folder layout), then point the data root at the result"
        )
    nbytes = int(h.get("sample_n_bytes", 2))
    channels = int(h.get("channel_count", 1))
    rate = int(h.get("sample_rate", 0))
    if nbytes not in (1, 2, 4) or rate <= 0:
        raise ValueError(f"{path}: unsupported SPHERE sample_n_bytes={nbytes} or sample_rate={rate}")
    order = str(h.get("sample_byte_format", "01"))
    endian = ">" if order.startswith("10") else "<"
    dtype = np.dtype({1: "i1", 2: f"{endian}i2", 4: f"{endian}i4"}[nbytes])
    count = int(h.get("sample_count", (len(data) - size) // (nbytes * channels))) * channels
    samples = np.frombuffer(data, dtype=dtype, count=count, offset=size).astype(np.float32)
    samples = samples.reshape(-1, channels).mean(axis=1) / float(2 ** (8 * nbytes - 1))
    return samples, rate


def write_sphere(path: Path, samples_int16: np.ndarray, rate: int, coding: str = "pcm") -> None:
    """A minimal SPHERE file (fixtures): 1024-byte header, little-endian 16-bit mono."""
    s = np.asarray(samples_int16, dtype="<i2")
    fields = [
        "database_id -s8 TIDIGITS",
        f"sample_count -i {s.size}",
        f"sample_rate -i {rate}",
        "channel_count -i 1",
        "sample_n_bytes -i 2",
        "sample_byte_format -s2 01",
        f"sample_coding -s{len(coding)} {coding}",
        "end_head",
    ]
    head = ("NIST_1A\n   1024\n" + "\n".join(fields) + "\n").encode("ascii")
    Path(path).write_bytes(head.ljust(1024, b" ") + s.tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    from scipy.io import wavfile

    rate, x = wavfile.read(str(path))
    if x.dtype.kind == "i":
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
    elif x.dtype.kind == "u":  # 8-bit PCM is unsigned
        x = (x.astype(np.float32) - 128.0) / 128.0
    x = np.asarray(x, np.float32)
    return (x.mean(axis=1) if x.ndim == 2 else x), int(rate)


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """WAV or SPHERE by content (TIDIGITS ships SPHERE files named ``*.wav``)."""
    with open(path, "rb") as f:
        magic = f.read(7)
    if magic.startswith(b"NIST_1A"):
        return read_sphere(path)
    if magic.startswith(b"RIFF"):
        return read_wav(path)
    raise ValueError(f"{path}: neither RIFF WAV nor NIST SPHERE (starts with {magic!r})")
