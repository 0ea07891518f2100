"""Readers for the on-disk event formats: each returns ``(x, y, p, t)`` numpy arrays in time order.

- N-MNIST ``.bin``: 5 bytes/event, x (8 bit), y (8 bit), polarity (1 bit) + timestamp (23 bit, us);
  read by tonic's ``read_mnist_file`` (handles the timestamp-overflow marker events).
- DVS128 Gesture as tonic 1.7 ships it (``ibmGesture{Train,Test}/userNN_<lighting>/<label>.npy``):
  an ``[N, 4]`` array of x, y, p, t with t in ms (tonic multiplies by 1000; so do we).
- CIFAR10-DVS, original release (``<class>/cifar10_<class>_<i>.aedat``, AEDAT 2.0): '#' header
  lines, then big-endian uint32 pairs (address, timestamp us); DVS128 address layout
  x = (a >> 1) & 0x7F, y = (a >> 8) & 0x7F, p = a & 1, mapped as SpikingJelly does
  (x' = 127 - y, y' = 127 - x, p' = 1 - p) so frames match the papers' pipeline.
- CIFAR10-DVS as tonic 1.7 ships it (``<class>/*.aedat4``): read by tonic's ``read_aedat4``,
  which needs the optional ``aedat`` package (``pip install aedat``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

Events = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def read_nmnist(path: Path) -> Events:
    from tonic.io import read_mnist_file

    dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
    ev = read_mnist_file(str(path), dtype=dtype)
    return ev["x"], ev["y"], ev["p"], ev["t"]


def write_nmnist(path: Path, x, y, p, t) -> None:
    """Write events in the N-MNIST binary format (for fixtures; timestamps must be < 2**23 us)."""
    x, y, p, t = (np.asarray(a, np.int64) for a in (x, y, p, t))
    if t.size and t.max() >= 2**23:
        raise ValueError("N-MNIST timestamps are 23 bit")
    raw = np.zeros((x.size, 5), np.uint8)
    raw[:, 0], raw[:, 1] = x, y
    raw[:, 2] = (p.astype(np.uint8) << 7) | ((t >> 16) & 0x7F).astype(np.uint8)
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    Path(path).write_bytes(raw.tobytes())


def read_gesture_npy(path: Path) -> Events:
    ev = np.load(path)
    return ev[:, 0], ev[:, 1], ev[:, 2], ev[:, 3].astype(np.int64) * 1000


def read_aedat2_dvs128(path: Path) -> Events:
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data) and data[pos : pos + 1] == b"#":
        nl = data.find(b"\n", pos)
        pos = len(data) if nl < 0 else nl + 1
    body = data[pos:]
    if len(body) % 8:
        raise ValueError(f"{path}: AEDAT 2.0 body of {len(body)} bytes is not a whole number of 8-byte events")
    words = np.frombuffer(body, dtype=">u4").reshape(-1, 2)
    addr, ts = words[:, 0].astype(np.int64), words[:, 1].astype(np.int64)
    xr, yr, pr = (addr >> 1) & 0x7F, (addr >> 8) & 0x7F, addr & 1
    order = np.argsort(ts, kind="stable")
    return (127 - yr)[order], (127 - xr)[order], (1 - pr)[order], ts[order]


def write_aedat2_dvs128(path: Path, x, y, p, t) -> None:
    """Inverse of :func:`read_aedat2_dvs128` (fixtures): AEDAT 2.0 header + big-endian (address, t)."""
    x, y, p, t = (np.asarray(a, np.int64) for a in (x, y, p, t))
    xr, yr, pr = 127 - y, 127 - x, 1 - p
    addr = (yr << 8) | (xr << 1) | pr
    words = np.stack([addr, t], axis=1).astype(">u4")
    header = b"#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n# End Of ASCII Header\r\n"
    Path(path).write_bytes(header + words.tobytes())


def read_aedat4(path: Path) -> Events:
    try:
        import aedat  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f"{path} is an AEDAT4 file (tonic's CIFAR10-DVS release); reading it needs the 'aedat' package: "
            "pip install aedat  (or place the original AEDAT 2.0 .aedat files instead)"
        ) from e
    from tonic.io import read_aedat4 as tonic_read

    ev = tonic_read(str(path))
    names = ev.dtype.names
    t = ev[names[0]].astype(np.int64)
    return ev[names[1]], ev[names[2]], ev[names[3]].astype(np.int64), t
