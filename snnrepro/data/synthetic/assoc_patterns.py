"""Associative-memory spike patterns of the IIR-SNN paper (section 5.1, Fig. 3).

``num_patterns`` random spatiotemporal patterns of ``n_trains`` spike trains x ``steps`` time steps
(Bernoulli spikes with probability ``rate`` per step, fixed by ``pattern_seed``).  A sample is a noisy
version of pattern ``k`` and its label is ``k``; the network must output the clean pattern.  Noise,
as in the authors' ``examples/associative_memory.py``: with probability ``p_modify`` the pattern is
modified -- with probability ``p_jitter`` every spike is moved by ``round(N(0, jitter_sigma))`` steps,
and with probability ``p_delete`` a ``block`` x ``block`` region or ``block`` whole trains are deleted
(each half the time) -- and background spikes with probability ``background`` per (train, step) are
always added.  The paper gives no rate or noise constants; ``rate`` 0.02 is our choice.

Samples are ``[steps, n_trains]`` float spikes (time first, like frame datasets; the ``events``
encoder makes them ``[T, B, n_trains]``).  Noise is drawn from a generator seeded by (split, index),
so every sample is the same in every epoch and run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from snnrepro.data.base import Availability, DataBundle, DatasetSource
from snnrepro.registry import DATASETS

PATTERN_KINDS = ("bernoulli", "shapes")
PATTERN_DEFAULTS: dict[str, Any] = {
    "num_patterns": 10,
    "n_trains": 300,
    "steps": 300,
    "rate": 0.02,
    "pattern_seed": 0,
    "kind": "bernoulli",
    "coverage": 0.3,
    "blob_grid": 6,
    "period_t": 5,
    "period_n": 3,
}


def lattice_mask(steps: int, n_trains: int, period_t: int, period_n: int) -> torch.Tensor:
    """``[steps, n_trains]`` sampling lattice of the authors' pattern script (its ``mask_choice 4``).

    Every ``period_t``-th step ``t = period_t c`` carries spikes on the trains ``r`` with
    ``r = c mod period_n`` (mod ``period_n``): each train fires every ``period_t * period_n`` steps,
    neighbouring trains one lattice column apart.
    """
    t = torch.arange(steps)[:, None]
    r = torch.arange(n_trains)[None, :]
    return ((t % period_t == 0) & ((r - t // period_t) % period_n == 0)).float()


def shape_regions(num_patterns: int, n_trains: int, steps: int, coverage: float, grid: int,
                  g: torch.Generator) -> torch.Tensor:
    """``[K, steps, n_trains]`` random smooth blobs: bicubic upsampling of a ``grid`` x ``grid`` uniform
    noise map, thresholded per pattern at its ``1 - coverage`` quantile (a fraction ``coverage`` is inside)."""
    import torch.nn.functional as F

    noise = torch.rand(num_patterns, 1, grid, grid, generator=g)
    smooth = F.interpolate(noise, size=(steps, n_trains), mode="bicubic", align_corners=False)[:, 0]
    cut = torch.quantile(smooth.reshape(num_patterns, -1), 1.0 - coverage, dim=1)
    return (smooth > cut[:, None, None]).float()


def make_patterns(
    num_patterns: int = 10,
    n_trains: int = 300,
    steps: int = 300,
    rate: float = 0.02,
    pattern_seed: int = 0,
    kind: str = "bernoulli",
    coverage: float = 0.3,
    blob_grid: int = 6,
    period_t: int = 5,
    period_n: int = 3,
) -> torch.Tensor:
    """The clean patterns ``[num_patterns, steps, n_trains]`` (0/1 floats), identical for every caller.

    ``kind``: ``bernoulli`` -- every (step, train) spikes independently with probability ``rate``;
    ``shapes`` -- as the authors' ``image_to_spike_patern.py``, a binary 2-D shape (train x time) times a
    regular sampling lattice (:func:`lattice_mask`); the authors binarise 10 drawings (letters,
    triangles), we draw random smooth blobs (:func:`shape_regions`) covering ``coverage`` of the plane,
    so the mean rate is ``coverage / (period_t period_n)`` (0.02 with the defaults) and ``rate`` is unused.
    """
    if num_patterns < 1 or n_trains < 1 or steps < 1:
        raise ValueError(f"assoc_patterns: sizes must be positive, got {num_patterns}, {n_trains}, {steps}")
    if kind not in PATTERN_KINDS:
        raise ValueError(f"assoc_patterns: kind must be one of {', '.join(PATTERN_KINDS)}, got {kind!r}")
    g = torch.Generator().manual_seed(int(pattern_seed))
    if kind == "shapes":
        if not 0.0 < coverage < 1.0:
            raise ValueError(f"assoc_patterns: coverage must be in (0, 1), got {coverage}")
        if int(blob_grid) < 2 or int(period_t) < 1 or int(period_n) < 1:
            raise ValueError(f"assoc_patterns: need blob_grid >= 2 and positive periods, got {blob_grid},"
                             f" {period_t}, {period_n}")
        regions = shape_regions(num_patterns, n_trains, steps, coverage, int(blob_grid), g)
        return regions * lattice_mask(steps, n_trains, int(period_t), int(period_n))
    if not 0.0 < rate < 1.0:
        raise ValueError(f"assoc_patterns: rate must be in (0, 1), got {rate}")
    return (torch.rand(num_patterns, steps, n_trains, generator=g) < rate).float()


def jitter(pattern: torch.Tensor, sigma: float, g: torch.Generator) -> torch.Tensor:
    """Move every spike of ``[steps, n]`` by ``round(N(0, sigma))`` steps (clamped to the window)."""
    t, n = pattern.nonzero(as_tuple=True)
    shift = torch.round(torch.randn(t.shape, generator=g) * sigma).long()
    t2 = (t + shift).clamp(0, pattern.shape[0] - 1)
    out = torch.zeros_like(pattern)
    out[t2, n] = 1.0
    return out


class NoisyPatterns(Dataset):
    """``size`` noisy samples cycling through the patterns (sample ``i`` is pattern ``i % K``)."""

    def __init__(self, patterns: torch.Tensor, size: int, seed: int, noise: dict[str, float]) -> None:
        self.patterns, self.size, self.seed, self.noise = patterns, int(size), int(seed), noise

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, int]:
        if not 0 <= idx < self.size:
            raise IndexError(idx)
        k = idx % self.patterns.shape[0]
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + idx)
        x = self.patterns[k].clone()
        nz = self.noise
        steps, n = x.shape

        def coin(p: float) -> bool:
            return bool(torch.rand((), generator=g) < p)

        if coin(nz["p_modify"]):
            if coin(nz["p_jitter"]):
                x = jitter(x, nz["jitter_sigma"], g)
            if coin(nz["p_delete"]):
                b = int(nz["block"])
                if coin(0.5):  # a block of trains x steps
                    r0 = int(torch.randint(0, max(n - b, 1), (), generator=g))
                    c0 = int(torch.randint(0, max(steps - b, 1), (), generator=g))
                    x[c0 : c0 + b, r0 : r0 + b] = 0.0
                else:  # whole trains
                    r0 = int(torch.randint(0, max(n - b, 1), (), generator=g))
                    x[:, r0 : r0 + b] = 0.0
        background = (torch.rand(x.shape, generator=g) < nz["background"]).float()
        return torch.maximum(x, background), k


class AssocPatternsSource(DatasetSource):
    """Synthetic (always available) associative-memory task; see the module docstring."""

    name = "assoc_patterns"
    downloadable = True

    def shape(self, **params: Any) -> tuple[tuple[int, ...], int]:
        p = self._params(params)
        return (p["steps"], p["n_trains"]), p["num_patterns"]

    @staticmethod
    def _params(params: dict[str, Any]) -> dict[str, Any]:
        defaults: dict[str, Any] = {
            **PATTERN_DEFAULTS,
            "train_size": 1000,
            "test_size": 200,
            "p_modify": 0.4,
            "p_jitter": 0.7,
            "jitter_sigma": 1.0,
            "p_delete": 0.5,
            "block": 40,
            "background": 0.005,
        }
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise ValueError(f"assoc_patterns: unknown parameter {unknown[0]!r}; known: {', '.join(sorted(defaults))}")
        p = {**defaults, **params}
        for key in ("p_modify", "p_jitter", "p_delete", "background"):
            if not 0.0 <= float(p[key]) <= 1.0:
                raise ValueError(f"assoc_patterns: {key} must be a probability, got {p[key]}")
        if int(p["train_size"]) < 1 or int(p["test_size"]) < 1:
            raise ValueError("assoc_patterns: train_size and test_size must be positive")
        return p

    def load(self, root: Path, download: bool, **params: Any) -> DataBundle:
        p = self._params(params)
        pats = make_patterns(**{k: p[k] for k in PATTERN_DEFAULTS})
        noise = {k: float(p[k]) for k in ("p_modify", "p_jitter", "jitter_sigma", "p_delete", "block", "background")}
        train = NoisyPatterns(pats, p["train_size"], seed=1, noise=noise)
        test = NoisyPatterns(pats, p["test_size"], seed=2, noise=noise)
        info = {"synthetic": True, **{k: v for k, v in p.items() if isinstance(v, int | float | str)}}
        return DataBundle(train, test, (p["steps"], p["n_trains"]), p["num_patterns"], time_steps=p["steps"], info=info)

    def check(self, root: Path) -> Availability:
        return Availability(self.name, "present", Path(root), note="synthetic: generated in memory")


DATASETS.register("assoc_patterns")(AssocPatternsSource())
