"""Speech features shared by every audio dataset (TIDIGITS, FSDD, Speech Commands): one pipeline, one set of params.

Framing (``framing``):

- ``fit`` (the BRP code's TIDIGITS recipe): window ``w = len / (0.5 * n_frames + 0.5)`` samples,
  hop ``w / 2``: every utterance, whatever its length, gives exactly ``n_frames`` frames;
- ``fixed``: ``win_ms`` (25) window, ``hop_ms`` (10) hop, zero-padded/cropped to ``n_frames`` frames.

Each frame: Hamming window, power spectrum ``|rfft(frame, nfft)|^2 / nfft`` (nfft = the next power of
two >= the window, at least 512), mel filterbank (librosa's HTK-scale triangles, 0 .. sr/2, unnormalised),
then

- ``features: fbank`` -> the ``n_features`` band energies (``log`` false: linear, as the BRP code);
- ``features: mfcc`` -> DCT-II (orthonormal) of the log of ``n_mels`` (40) band energies, first ``n_features``.

``normalize``: ``band_l1`` (each band divided by its sum over frames: the BRP code), ``zscore``
(per feature, mean/std over all training frames, applied to both splits), ``minmax`` (each
utterance's map scaled to ``[0, 1]``: the intensity range the latency and phase encoders of the
image papers expect; used by ``snnrepro compare``) or ``none``.
Result per utterance: float32 ``[1, n_features, n_frames]`` (time on the last axis).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

FEATURES = ("mfcc", "fbank")
FRAMINGS = ("fit", "fixed")
NORMS = ("none", "band_l1", "zscore", "minmax")
EPS = np.finfo(np.float32).eps


@dataclass(frozen=True)
class FeatureSpec:
    features: str = "mfcc"
    n_features: int = 20
    n_frames: int = 90
    framing: str = "fit"
    normalize: str = "zscore"
    log: bool = True
    n_mels: int = 40
    win_ms: float = 25.0
    hop_ms: float = 10.0

    def __post_init__(self) -> None:
        if self.features not in FEATURES:
            raise ValueError(f"features must be one of {FEATURES}, got {self.features!r}")
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, got {self.framing!r}")
        if self.normalize not in NORMS:
            raise ValueError(f"normalize must be one of {NORMS}, got {self.normalize!r}")
        if int(self.n_features) < 1 or int(self.n_frames) < 1:
            raise ValueError(f"n_features and n_frames must be positive, got {self.n_features}, {self.n_frames}")
        if self.features == "mfcc" and self.n_features > self.n_mels:
            raise ValueError(f"mfcc: n_features ({self.n_features}) must be <= n_mels ({self.n_mels})")

    def as_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=32)
def mel_bank(sr: int, nfft: int, n: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=nfft, n_mels=n, fmin=0.0, fmax=sr / 2, htk=True, norm=None).astype(
        np.float64
    )


def frame_signal(x: np.ndarray, sr: int, spec: FeatureSpec) -> np.ndarray:
    """[n_frames, window] frames of ``x`` (zero padding where the signal is too short)."""
    if spec.framing == "fit":
        win = max(2, int(round(len(x) / (0.5 * spec.n_frames + 0.5))))
        hop = max(1, win // 2)
    else:
        win = max(2, int(round(sr * spec.win_ms / 1000)))
        hop = max(1, int(round(sr * spec.hop_ms / 1000)))
    need = win + hop * (spec.n_frames - 1)
    padded = np.zeros(max(need, len(x)), np.float64)
    padded[: len(x)] = x
    idx = np.arange(spec.n_frames)[:, None] * hop + np.arange(win)[None, :]
    return padded[idx]


def utterance_features(x: np.ndarray, sr: int, spec: FeatureSpec) -> np.ndarray:
    """float32 [n_features, n_frames] before dataset-level normalisation (band_l1 is per utterance)."""
    frames = frame_signal(np.asarray(x, np.float64), sr, spec)
    win = frames.shape[1]
    nfft = max(512, 1 << (win - 1).bit_length())
    pow_spec = np.abs(np.fft.rfft(frames * np.hamming(win), nfft)) ** 2 / nfft
    if spec.features == "fbank":
        e = pow_spec @ mel_bank(sr, nfft, spec.n_features).T
        feat = np.log(np.maximum(e, EPS)) if spec.log else e
    else:
        from scipy.fft import dct

        e = pow_spec @ mel_bank(sr, nfft, spec.n_mels).T
        feat = dct(np.log(np.maximum(e, EPS)), type=2, norm="ortho", axis=1)[:, : spec.n_features]
    feat = feat.T  # [n_features, n_frames]
    if spec.normalize == "band_l1":
        feat = feat / np.maximum(np.abs(feat).sum(axis=1, keepdims=True), EPS)
    elif spec.normalize == "minmax":
        feat = (feat - feat.min()) / max(float(feat.max() - feat.min()), float(EPS))
    return feat.astype(np.float32)


def zscore_stats(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std over all training utterances and frames; ``train`` is [N, 1, F, T]."""
    mean = train.mean(axis=(0, 1, 3), keepdims=True)
    std = train.std(axis=(0, 1, 3), keepdims=True)
    return mean, np.maximum(std, 1e-6)
