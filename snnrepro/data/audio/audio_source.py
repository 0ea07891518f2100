"""Shared loading of the audio datasets: file lists -> cached feature tensors -> TensorDatasets.

Spec params common to every audio dataset are the fields of
:class:`~snnrepro.data.audio.audio_features.FeatureSpec` (``features``, ``n_features``, ``n_frames``,
``framing``, ``normalize``, ``log``, ``n_mels``, ``win_ms``, ``hop_ms``) plus ``cache`` (true).
Features of each split are cached as one ``.pt`` file keyed by the feature params, the dataset's
own params and the list of source files (path and size): any change recomputes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from abc import abstractmethod
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch.utils.data import TensorDataset

from snnrepro.data.audio.audio_features import FeatureSpec, utterance_features, zscore_stats
from snnrepro.data.audio.audio_io import read_audio
from snnrepro.data.base import DataBundle, DatasetSource
from snnrepro.data.events.event_frames import cache_root

FEATURES_VERSION = 1
SPEC_KEYS = {f.name for f in fields(FeatureSpec)}
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "mfcc": {"features": "mfcc", "n_features": 20, "n_frames": 90, "framing": "fit", "normalize": "zscore"},
    "fbank": {"features": "fbank", "n_features": 30, "n_frames": 30, "framing": "fit", "normalize": "band_l1",
              "log": False},
}


def atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read_cache(path: Path, n: int, sample_shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Cached ``(x, y)`` of one split; None (and a notice; the caller rebuilds it) when the file is damaged."""
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
        x, y = d["x"], d["y"]
        if tuple(x.shape) != (n, *sample_shape) or tuple(y.shape) != (n,):
            raise ValueError(f"shapes {tuple(x.shape)}, {tuple(y.shape)}; expected {(n, *sample_shape)}, {(n,)}")
        return x, y
    except Exception as exc:  # truncated, not a torch file, a hostile pickle, other shapes: rebuilt, never trusted
        from snnrepro.notice import notice

        notice(f"feature cache {path} is damaged ({type(exc).__name__}: {' '.join(str(exc).split())[:120]}); "
               "rebuilding it")
        path.unlink(missing_ok=True)
        return None


class AudioSource(DatasetSource):
    """Base of the audio datasets; subclasses list files and labels and may override :meth:`read`."""

    default_features = "mfcc"

    def feature_defaults(self, kind: str) -> dict[str, Any]:
        """Defaults per feature kind: mfcc = the IIR rows (20 x 90), fbank = the BRP rows (30 x 30)."""
        return dict(KIND_DEFAULTS.get(kind, {"features": kind}))

    def own_params(self) -> dict[str, Any]:
        return {}

    def split_params(self, params: dict[str, Any]) -> tuple[FeatureSpec, dict[str, Any], bool]:
        own = {k: v for k, v in params.items() if k not in SPEC_KEYS | {"cache"}}
        unknown = set(own) - set(self.own_params())
        if unknown:
            allowed = sorted(SPEC_KEYS | {"cache"} | set(self.own_params()))
            raise ValueError(f"{self.name}: unknown dataset params {sorted(unknown)}; allowed: {allowed}")
        kind = str(params.get("features", self.default_features))
        spec_kw = {**self.feature_defaults(kind), **{k: v for k, v in params.items() if k in SPEC_KEYS}}
        return FeatureSpec(**spec_kw), {**self.own_params(), **own}, bool(params.get("cache", True))

    @abstractmethod
    def num_classes(self, own: dict[str, Any]) -> int: ...

    def shape(self, **params: Any) -> tuple[tuple[int, ...], int]:
        spec, own, _ = self.split_params(params)
        return (1, int(spec.n_features), int(spec.n_frames)), self.num_classes(own)

    @abstractmethod
    def files(self, root: Path, download: bool, own: dict[str, Any]) -> tuple[list, list, dict[str, Any], Path]:
        """(train [(path, label)], test [(path, label)], info, base folder)."""

    def read(self, path: Path, own: dict[str, Any]) -> tuple[np.ndarray, int]:
        return read_audio(path)

    def features(self, items: list, spec: FeatureSpec, own: dict[str, Any], cdir: Path | None, base: Path,
                 split: str) -> tuple[torch.Tensor, torch.Tensor]:
        path = None
        if cdir is not None:
            listing = [(str(Path(p).relative_to(base)) if Path(p).is_relative_to(base) else str(p),
                        Path(p).stat().st_size, int(y)) for p, y in items]
            blob = json.dumps({"v": FEATURES_VERSION, "ds": self.name, "split": split, "spec": spec.as_dict(),
                               "own": own, "files": listing}, sort_keys=True, default=str)
            path = cdir / f"{split}-{hashlib.sha1(blob.encode()).hexdigest()}.pt"
            if path.is_file():
                cached = _read_cache(path, len(items), (1, int(spec.n_features), int(spec.n_frames)))
                if cached is not None:
                    return cached
        n = len(items)
        x = np.zeros((n, 1, int(spec.n_features), int(spec.n_frames)), np.float32)
        # tiny matrix products: BLAS threads only contend (25x slower on a shared 2-core machine)
        with threadpool_limits(limits=1):
            for i, (p, _) in enumerate(items):
                sig, sr = self.read(Path(p), own)
                x[i, 0] = utterance_features(sig, sr, spec)
        xt, yt = torch.from_numpy(x), torch.tensor([int(y) for _, y in items], dtype=torch.long)
        if path is not None:
            atomic_torch_save({"x": xt, "y": yt}, path)
        return xt, yt

    def rebalance(self, x: torch.Tensor, y: torch.Tensor, own: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        return x, y

    def load(self, root: Path, download: bool, **params: Any) -> DataBundle:
        spec, own, use_cache = self.split_params(params)
        classes = self.num_classes(own)
        train, test, info, base = self.files(root, download, own)
        cdir = cache_root(root) / "features" / self.name if use_cache else None
        xtr, ytr = self.features(train, spec, own, cdir, base, "train")
        xte, yte = self.features(test, spec, own, cdir, base, "test")
        if spec.normalize == "zscore":
            mean, std = zscore_stats(xtr.numpy())
            xtr, xte = (xtr - torch.from_numpy(mean)) / torch.from_numpy(std), (xte - torch.from_numpy(mean)) / (
                torch.from_numpy(std))
        n_before = len(ytr)
        xtr, ytr = self.rebalance(xtr, ytr, own)
        info.update({"features": spec.as_dict(), "layout": "[1, n_features, n_frames], time on the last axis",
                     "n_train": len(ytr), "n_test": len(yte)})
        if len(ytr) != n_before:
            info["n_train_before_rebalance"] = n_before
        return DataBundle(TensorDataset(xtr, ytr), TensorDataset(xte, yte), (1, int(spec.n_features),
                          int(spec.n_frames)), classes, info=info)
