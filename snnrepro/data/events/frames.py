"""Event streams -> frames [T, 2, H, W] of event counts, the SpikingJelly integration the papers used.

``split_by="count"`` (SpikingJelly's ``"number"``): with N events and T frames, frame j holds
events ``[j*floor(N/T), (j+1)*floor(N/T))`` and the last frame also takes the remainder (ends
at N).  ``split_by="time"``: with ``dt = floor((t[N-1] - t[0]) / T)``, frame j holds the events
with ``t0 + j*dt <= t < t0 + (j+1)*dt``, the last frame every event from ``t0 + (T-1)*dt`` on.
Channel 0 counts OFF events (polarity 0), channel 1 ON events (polarity 1); values are
counts (not binarised).  tonic's ``ToFrame(n_event_bins=T)`` drops the ``N mod T`` remainder
events and its time bins exclude the last event, so this module does the integration itself;
``tests/test_data_events.py`` checks it against a hand count and against ``ToFrame`` where
the two definitions coincide.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SPLITS = ("count", "time")
RESIZE_MODES = ("nearest", "area")


def segment_bounds(t: np.ndarray, T: int, split_by: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) event index of each of the T frames."""
    n = int(t.size)
    if split_by == "count":
        di = n // T
        lo = np.arange(T, dtype=np.int64) * di
        hi = lo + di
    elif split_by == "time":
        if n == 0:
            return np.zeros(T, np.int64), np.zeros(T, np.int64)
        t = t.astype(np.int64)
        dt = (int(t[-1]) - int(t[0])) // T
        edges = int(t[0]) + dt * np.arange(T + 1, dtype=np.int64)
        lo = np.searchsorted(t, edges[:-1], side="left")
        hi = np.searchsorted(t, edges[1:], side="left")
    else:
        raise ValueError(f"split_by must be one of {SPLITS}, got {split_by!r}")
    hi[-1] = n
    return lo, hi


def events_to_frames(
    x: np.ndarray, y: np.ndarray, p: np.ndarray, t: np.ndarray, size: tuple[int, int], T: int, split_by: str
) -> np.ndarray:
    """Integrate one recording (events in time order) into ``float32 [T, 2, H, W]`` counts; ``size = (H, W)``."""
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    H, W = size
    x = np.asarray(x, np.int64)
    y = np.asarray(y, np.int64)
    pol = (np.asarray(p) != 0).astype(np.int64)
    if x.size and (x.min() < 0 or x.max() >= W or y.min() < 0 or y.max() >= H):
        raise ValueError(
            f"event coordinates outside the {W}x{H} sensor: x {x.min()}..{x.max()}, y {y.min()}..{y.max()}"
        )
    lo, hi = segment_bounds(np.asarray(t), T, split_by)
    frame_of = np.full(x.size, -1, np.int64)
    for j in range(T):
        frame_of[lo[j] : hi[j]] = j
    keep = frame_of >= 0
    flat = ((frame_of * 2 + pol) * H + y) * W + x
    counts = np.bincount(flat[keep], minlength=T * 2 * H * W)
    return counts.reshape(T, 2, H, W).astype(np.float32)


def resize_frames(frames: torch.Tensor, size: tuple[int, int] | None, mode: str = "nearest") -> torch.Tensor:
    """Resize ``[T, C, H, W]`` frames to ``size``; ``nearest`` (the BPSA/BPTA code) or ``area`` (block mean)."""
    if size is None or tuple(frames.shape[-2:]) == tuple(size):
        return frames
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {mode!r}")
    return F.interpolate(frames, size=tuple(size), mode=mode)
