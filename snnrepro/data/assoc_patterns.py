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

PATTERN_DEFAULTS: dict[str, Any] = {"num_patterns": 10, "n_trains": 300, "steps": 300, "rate": 0.02, "pattern_seed": 0}


def make_patterns(
    num_patterns: int = 10, n_trains: int = 300, steps: int = 300, rate: float = 0.02, pattern_seed: int = 0
) -> torch.Tensor:
    """The clean patterns ``[num_patterns, steps, n_trains]`` (0/1 floats), identical for every caller."""
    if num_patterns < 1 or n_trains < 1 or steps < 1:
        raise ValueError(f"assoc_patterns: sizes must be positive, got {num_patterns}, {n_trains}, {steps}")
    if not 0.0 < rate < 1.0:
        raise ValueError(f"assoc_patterns: rate must be in (0, 1), got {rate}")
    g = torch.Generator().manual_seed(int(pattern_seed))
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
        pats = make_patterns(*(p[k] for k in ("num_patterns", "n_trains", "steps", "rate", "pattern_seed")))
        noise = {k: float(p[k]) for k in ("p_modify", "p_jitter", "jitter_sigma", "p_delete", "block", "background")}
        train = NoisyPatterns(pats, p["train_size"], seed=1, noise=noise)
        test = NoisyPatterns(pats, p["test_size"], seed=2, noise=noise)
        info = {"synthetic": True, **{k: v for k, v in p.items() if isinstance(v, int | float)}}
        return DataBundle(train, test, (p["steps"], p["n_trains"]), p["num_patterns"], time_steps=p["steps"], info=info)

    def check(self, root: Path) -> Availability:
        return Availability(self.name, "present", Path(root), note="synthetic: generated in memory")


DATASETS.register("assoc_patterns")(AssocPatternsSource())
