"""ReL-PSP layers (STDBP) around the first-spike kernel of :mod:`snnrepro.neurons.relpsp.kernel`.

The neuron model, its exact gradients and the algorithm are described there.  Layers:
:class:`RelPspDense` (``[B, in] -> [B, out]``), :class:`RelPspConv2d` (im2col, then the
same kernel per output position; padding is "no spike"), :class:`MinPool2d` (earliest spike wins,
``min`` of the times = max pooling of ``-t``).  :func:`resolve_kernel` picks the implementation of the
kernel per call: the compiled CPU one (:mod:`.kernel_numba`) or the PyTorch one (:mod:`.kernel`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from snnrepro.neurons.relpsp import kernel_numba
from snnrepro.neurons.relpsp.kernel import first_spike_times, first_spike_times_reference

KERNELS = ("auto", "torch", "numba")
#: environment variable that replaces ``kernel="auto"`` (benches, A/B runs): ``torch`` or ``numba``
KERNEL_ENV = "SNNREPRO_RELPSP_KERNEL"


def resolve_kernel(kernel: str, device: torch.device) -> str:
    """The implementation a layer call uses: ``torch`` or ``numba``.

    ``auto`` is ``$SNNREPRO_RELPSP_KERNEL`` when set, else ``numba`` on CPU tensors when numba imports,
    else ``torch``; whatever ``auto`` gives, tensors on other devices take ``torch``.  An explicit
    ``numba`` on a non-CPU device (or without numba) is an error, not a silent fallback.
    """
    if kernel not in KERNELS:
        raise ValueError(f"relpsp: kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if kernel == "auto":
        env = os.environ.get(KERNEL_ENV, "").strip()
        if env and env not in KERNELS[1:]:
            raise ValueError(f"relpsp: {KERNEL_ENV} must be torch or numba, got {env!r}")
        choice = env or ("numba" if kernel_numba.AVAILABLE else "torch")
        return choice if device.type == "cpu" and kernel_numba.AVAILABLE else "torch"
    if kernel == "numba" and not kernel_numba.AVAILABLE:
        raise ValueError("relpsp: kernel='numba' needs numba installed")
    if kernel == "numba" and device.type != "cpu":
        raise ValueError(f"relpsp: kernel='numba' runs on CPU tensors only, got {device}")
    return kernel


def _init_weight(weight: torch.Tensor, fan_in: int, init: str, gain: float, mean: float) -> None:
    """``init`` ``normal``: N(mean/fan_in, (gain^2)/fan_in); ``uniform``: same mean and variance, uniform."""
    std = gain / math.sqrt(fan_in)
    with torch.no_grad():
        if init == "normal":
            weight.normal_(mean / fan_in, std)
        elif init == "uniform":
            half = std * math.sqrt(3.0)
            weight.uniform_(mean / fan_in - half, mean / fan_in + half)
        else:
            raise ValueError(f"relpsp: init must be 'normal' or 'uniform', got {init!r}")


@dataclass(frozen=True)
class RelPspConfig:
    """Options of every ReL-PSP layer (the ``relpsp`` family's neuron params, declared once).

    ``theta`` threshold, ``t_max`` end of the simulation window (silent neurons output ``t_max``),
    ``init``/``gain``/``mean`` the weight initialisation (:func:`_init_weight`), ``chunk`` inputs
    per scan step of the PyTorch kernel (``None``: chosen per layer), ``kernel`` the implementation
    (``auto`` | ``torch`` | ``numba``, :func:`resolve_kernel`; not a spec param of the committed specs,
    so their hashes do not see it), ``reference=True`` uses :func:`first_spike_times_reference` (slow;
    for tests and checks).
    """

    theta: float = 1.0
    t_max: float = 4.0
    init: str = "normal"
    gain: float = 1.0
    mean: float = 0.0
    chunk: int | None = None
    reference: bool = False
    kernel: str = "auto"


class _RelPspLayer(nn.Module):
    """What dense and conv ReL-PSP layers share: parameters, weight ``[fan_in, out]``, and the kernel choice.

    Options: a :class:`RelPspConfig` (``config``) or its fields as keywords.
    """

    def __init__(self, fan_in: int, n_out: int, config: RelPspConfig | None = None, **options: Any) -> None:
        super().__init__()
        cfg = config or RelPspConfig(**options)
        theta, t_max = cfg.theta, cfg.t_max
        if theta <= 0 or t_max <= 0:
            raise ValueError(f"{type(self).__name__}: theta and t_max must be positive, got {theta}, {t_max}")
        if cfg.kernel not in KERNELS:
            raise ValueError(f"{type(self).__name__}: kernel must be one of {', '.join(KERNELS)}, got {cfg.kernel!r}")
        self.theta, self.t_max, self.chunk, self.reference = theta, t_max, cfg.chunk, cfg.reference
        self.impl = cfg.kernel  # not self.kernel: RelPspConv2d.kernel is the kernel size
        self.weight = nn.Parameter(torch.empty(fan_in, n_out))
        _init_weight(self.weight, fan_in, cfg.init, cfg.gain, cfg.mean)

    def _times(self, t_in: torch.Tensor) -> torch.Tensor:
        """First-spike times of ``[N, fan_in]`` input times: a fast kernel (:func:`resolve_kernel`), or the
        reference one."""
        if self.reference:
            return first_spike_times_reference(t_in, self.weight, self.theta, self.t_max)
        if resolve_kernel(self.impl, t_in.device) == "numba":
            return kernel_numba.first_spike_times_numba(t_in, self.weight, self.theta, self.t_max)
        return first_spike_times(t_in, self.weight, self.theta, self.t_max, self.chunk)


class RelPspDense(_RelPspLayer):
    """Fully connected ReL-PSP layer: ``[B, in]`` input spike times -> ``[B, out]`` first-spike times (Eq. 12).

    ``weight`` is stored ``[in, out]`` (the row of input ``i`` is gathered when ``i`` spikes); options
    a :class:`RelPspConfig` or its fields.
    """

    def __init__(self, n_in: int, n_out: int, config: RelPspConfig | None = None, **options: Any) -> None:
        super().__init__(n_in, n_out, config, **options)
        self.n_in, self.n_out = n_in, n_out

    def forward(self, t_in: torch.Tensor) -> torch.Tensor:
        return self._times(t_in)

    def extra_repr(self) -> str:
        return f"{self.n_in}, {self.n_out}, theta={self.theta:g}, t_max={self.t_max:g}"


class RelPspConv2d(_RelPspLayer):
    """Convolutional ReL-PSP layer: ``[B, C, H, W]`` times -> ``[B, out, H', W']`` first-spike times.

    Each output position is a ReL-PSP neuron whose inputs are its receptive field (im2col), so the
    same Eq. 12 kernel as :class:`RelPspDense` runs on ``[B*H'*W', C*kh*kw]`` rows with weight
    ``[C*kh*kw, out]``.  Padding positions carry "no spike" (``t_max``), never time 0.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: tuple[int, int],
        padding: tuple[int, int] = (0, 0),
        config: RelPspConfig | None = None,
        **options: Any,
    ) -> None:
        super().__init__(c_in * kernel[0] * kernel[1], c_out, config, **options)
        self.c_in, self.c_out, self.kernel, self.padding = c_in, c_out, tuple(kernel), tuple(padding)

    def forward(self, t_in: torch.Tensor) -> torch.Tensor:
        if t_in.dim() != 4 or t_in.shape[1] != self.c_in:
            raise ValueError(f"RelPspConv2d: expected [B, {self.c_in}, H, W] spike times, got {tuple(t_in.shape)}")
        ph, pw = self.padding
        x = t_in.clamp(max=self.t_max)
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph), value=self.t_max)
        bsz, _, h, w = x.shape
        h2, w2 = h - self.kernel[0] + 1, w - self.kernel[1] + 1
        cols = F.unfold(x, self.kernel)  # [B, C*kh*kw, L]
        rows = cols.transpose(1, 2).reshape(bsz * h2 * w2, -1)
        return self._times(rows).view(bsz, h2, w2, self.c_out).permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return (
            f"{self.c_in}, {self.c_out}, kernel={self.kernel}, padding={self.padding},"
            f" theta={self.theta:g}, t_max={self.t_max:g}"
        )


class MinPool2d(nn.Module):
    """Pooling of spike times: the earliest spike of each window wins (``min`` = ``-maxpool(-t)``)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return -F.max_pool2d(-t, self.size)

    def extra_repr(self) -> str:
        return f"size={self.size}"
