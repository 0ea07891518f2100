"""Stand-ins for missing datasets, used by the ``smoke`` profile only.

A smoke run checks that a spec's whole pipeline (data shape -> encoder -> model -> rule -> record)
works; when the real dataset is not on disk it trains instead on a *real* small dataset of the
same sample shape, and the run record says so (``data_source: standin:<name>``).  Such runs are
never counted as reproductions.  Datasets register their own stand-in with
:func:`register_standin`; image datasets fall back to scikit-learn's digits resized to their
``[C, H, W]``, every other sample shape (event frames ``[T, C, H, W]``, audio features
``[1, features, frames]``, ...) to ``standin_frames`` (the same digits resized and repeated).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from snnrepro.data.standins.standin_frames import frames_standin_for
from snnrepro.registry import DATASETS

StandinFn = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]
_STANDINS: dict[str, StandinFn] = {}


def register_standin(dataset: str) -> Callable[[StandinFn], StandinFn]:
    """Decorator: ``fn(params) -> (standin dataset name, its params)`` for a missing ``dataset``."""

    def deco(fn: StandinFn) -> StandinFn:
        _STANDINS[dataset] = fn
        return fn

    return deco


def standin_for(name: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The registered stand-in of ``name``, else digits of the same image shape."""
    if name in _STANDINS:
        return _STANDINS[name](dict(params))
    (shape, _classes) = DATASETS.get(name).shape(**params)
    if len(shape) == 3 and shape[1] == shape[2] and shape[0] in (1, 3):
        return "digits", {"size": shape[1], "channels": shape[0]}
    return frames_standin_for(name, params)  # event frames, audio features, sensor series


#: event and audio datasets: the frames stand-in of the same sample shape, even where it looks like an image
for _name in ("nmnist", "dvsgesture", "cifar10dvs", "ntidigits", "tidigits", "fsdd", "gsc", "auslan"):
    register_standin(_name)(lambda params, _n=_name: frames_standin_for(_n, params))
