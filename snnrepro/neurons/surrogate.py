"""Surrogate gradients for the Heaviside spike function.

Every surrogate is a small class registered in ``SURROGATES``.  The forward pass is always the
exact step ``o = H(v) = 1[v >= 0]`` with ``v = u - theta``; only the backward pass differs and
uses the derivative ``g'(v)`` of a smooth primitive ``g`` (stated in each class, with ``g(v) -> H(v)``
as the width goes to zero).

=================  ==========================================  ===========================================
name (params)      primitive g(v)                              derivative g'(v) used in backward
=================  ==========================================  ===========================================
``rectangular``    clamp(v / a + 1/2, 0, 1)                    (1/a) * 1[|v| < a/2]
 (width a = 1)
``triangle``       piecewise quadratic                         max(0, 1 - |v| / a) / a
 (width a = 1)
``sigmoid``        sigmoid(alpha * v)                          alpha * s(v) * (1 - s(v))
 (alpha = 4)
``atan``           1/2 + atan(pi/2 * alpha * v) / pi           (alpha/2) / (1 + (pi/2 * alpha * v)^2)
 (alpha = 2)
``fast_sigmoid``   v / (1 + k |v|)  (SuperSpike, snnTorch)    1 / (1 + k |v|)^2
 (slope k = 25)
``gaussian``       P(v) = 1/2 erfc(-v / (sqrt(2) sigma))       exp(-v^2 / (2 sigma^2)) / (sqrt(2 pi) sigma)
 (sigma = 0.4)
=================  ==========================================  ===========================================

``rectangular`` with ``width=1`` and ``theta=0.5`` is the BPSA/BPTA authors' baseline (``ActFun``:
gradient 1 where |u - 0.5| < 0.5) and the BRP code's surrogate.  ``gaussian`` is the IIR-SNN paper's
spike-probability surrogate (Eq. 18-19: the spike probability of a LIF neuron under Gaussian noise,
``P(v) = 1/2 erfc((V_th - u) / (sqrt(2) sigma))``).

Use::

    sg = build_surrogate("rectangular")                      # default params
    sg = build_surrogate({"name": "gaussian", "sigma": 0.4}) # or {"name": ..., "params": {...}}
    o = sg.spike(u - theta)          # Heaviside forward, g'(v) backward (autograd Function)
    d = sg.grad(u - theta)           # g'(v) itself, for fused kernels (snnrepro.neurons.lif)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import torch

from snnrepro.registry import SURROGATES


class Surrogate(ABC):
    """Base class: ``spike(v)`` = Heaviside forward with ``grad(v)`` backward."""

    name = "base"

    @abstractmethod
    def grad(self, v: torch.Tensor) -> torch.Tensor:
        """The surrogate derivative ``g'(v)`` at ``v = u - theta``."""

    def grad_(self, v: torch.Tensor) -> torch.Tensor:
        """:meth:`grad` computed in place into ``v`` (no allocation; used by the fused LIF backward)."""
        return v.copy_(self.grad(v))

    @abstractmethod
    def primitive(self, v: torch.Tensor) -> torch.Tensor:
        """The smooth function ``g(v)`` whose derivative is :meth:`grad` (used by tests)."""

    def spike(self, v: torch.Tensor) -> torch.Tensor:
        """``H(v)`` (1 where ``v >= 0``) in the forward pass, ``g'(v)`` in the backward pass."""
        return SurrogateSpike.apply(v, self)

    def params(self) -> dict[str, float]:
        return dict(vars(self))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v:g}" for k, v in self.params().items())
        return f"{self.name}({inner})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params() == other.params()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params().items()))))


class SurrogateSpike(torch.autograd.Function):
    """Heaviside forward, surrogate derivative backward."""

    @staticmethod
    def forward(ctx: Any, v: torch.Tensor, sg: Surrogate) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(v)
        ctx.sg = sg
        return (v >= 0).to(v.dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (v,) = ctx.saved_tensors
        return grad_out * ctx.sg.grad(v), None


def _positive(name: str, key: str, value: float) -> float:
    value = float(value)
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"surrogate {name!r}: {key} must be a positive number, got {value}")
    return value


@SURROGATES.register("rectangular")
class Rectangular(Surrogate):
    """Boxcar: ``g'(v) = (1/a) * 1[|v| < a/2]``, ``g(v) = clamp(v/a + 1/2, 0, 1)``; ``a = width``."""

    name = "rectangular"

    def __init__(self, width: float = 1.0) -> None:
        self.width = _positive(self.name, "width", width)

    def grad(self, v: torch.Tensor) -> torch.Tensor:
        return (v.abs() < self.width / 2).to(v.dtype) / self.width

    def grad_(self, v: torch.Tensor) -> torch.Tensor:
        return torch.lt(v.abs_(), self.width / 2, out=v).mul_(1.0 / self.width)

    def primitive(self, v: torch.Tensor) -> torch.Tensor:
        return (v / self.width + 0.5).clamp(0.0, 1.0)


@SURROGATES.register("triangle")
class Triangle(Surrogate):
    """Triangle (Esser et al. 2016, Bellec et al. 2018): ``g'(v) = max(0, 1 - |v|/a) / a``; ``a = width``."""

    name = "triangle"

    def __init__(self, width: float = 1.0) -> None:
        self.width = _positive(self.name, "width", width)

    def grad(self, v: torch.Tensor) -> torch.Tensor:
        return (1.0 - v.abs() / self.width).clamp_min(0.0) / self.width

    def grad_(self, v: torch.Tensor) -> torch.Tensor:
        return v.abs_().mul_(-1.0 / self.width).add_(1.0).clamp_min_(0.0).mul_(1.0 / self.width)

    def primitive(self, v: torch.Tensor) -> torch.Tensor:
        z = (v / self.width).clamp(-1.0, 1.0)
        return 0.5 + z - z * z.abs() / 2


@SURROGATES.register("sigmoid")
class Sigmoid(Surrogate):
    """``g(v) = sigmoid(alpha v)``, ``g'(v) = alpha s (1 - s)`` (SpikingJelly's default, alpha = 4)."""

    name = "sigmoid"

    def __init__(self, alpha: float = 4.0) -> None:
        self.alpha = _positive(self.name, "alpha", alpha)

    def grad(self, v: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self.alpha * v)
        return self.alpha * s * (1.0 - s)

    def grad_(self, v: torch.Tensor) -> torch.Tensor:
        s = v.mul_(self.alpha).sigmoid_()
        return torch.addcmul(s, s, s, value=-1.0, out=s).mul_(self.alpha)

    def primitive(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.alpha * v)


@SURROGATES.register("atan")
class ATan(Surrogate):
    """``g(v) = 1/2 + atan(pi/2 alpha v)/pi``, ``g'(v) = (alpha/2) / (1 + (pi/2 alpha v)^2)`` (alpha = 2)."""

    name = "atan"

    def __init__(self, alpha: float = 2.0) -> None:
        self.alpha = _positive(self.name, "alpha", alpha)

    def grad(self, v: torch.Tensor) -> torch.Tensor:
        return (self.alpha / 2) / (1.0 + (math.pi / 2 * self.alpha * v).square())

    def grad_(self, v: torch.Tensor) -> torch.Tensor:
        return v.mul_(math.pi / 2 * self.alpha).square_().add_(1.0).reciprocal_().mul_(self.alpha / 2)

    def primitive(self, v: torch.Tensor) -> torch.Tensor:
        return 0.5 + torch.atan(math.pi / 2 * self.alpha * v) / math.pi


@SURROGATES.register("fast_sigmoid")
class FastSigmoid(Surrogate):
    """SuperSpike / snnTorch ``fast_sigmoid``: ``g'(v) = 1 / (1 + k|v|)^2`` (peak 1), slope ``k``.

    Primitive ``g(v) = v / (1 + k|v|)`` (a sigmoid-shaped curve with range (-1/k, 1/k); only its
    derivative matters).
    """

    name = "fast_sigmoid"

    def __init__(self, slope: float = 25.0) -> None:
        self.slope = _positive(self.name, "slope", slope)

    def grad(self, v: torch.Tensor) -> torch.Tensor:
        return 1.0 / (1.0 + self.slope * v.abs()).square()

    def grad_(self, v: torch.Tensor) -> torch.Tensor:
        return v.abs_().mul_(self.slope).add_(1.0).square_().reciprocal_()

    def primitive(self, v: torch.Tensor) -> torch.Tensor:
        return v / (1.0 + self.slope * v.abs())


@SURROGATES.register("gaussian")
class Gaussian(Surrogate):
    """Spike probability under Gaussian noise (IIR-SNN Eq. 18-19).

    ``g(v) = P(v) = 1/2 erfc(-v / (sqrt(2) sigma))``, ``g'(v) = exp(-v^2 / (2 sigma^2)) / (sqrt(2 pi) sigma)``
    with ``v = u - V_th``.
    """

    name = "gaussian"

    def __init__(self, sigma: float = 0.4) -> None:
        self.sigma = _positive(self.name, "sigma", sigma)

    def grad(self, v: torch.Tensor) -> torch.Tensor:
        s = self.sigma
        return torch.exp(-(v * v) / (2 * s * s)) / (math.sqrt(2 * math.pi) * s)

    def grad_(self, v: torch.Tensor) -> torch.Tensor:
        s = self.sigma
        return v.square_().mul_(-1.0 / (2 * s * s)).exp_().mul_(1.0 / (math.sqrt(2 * math.pi) * s))

    def primitive(self, v: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.special.erfc(-v / (math.sqrt(2.0) * self.sigma))


def build_surrogate(spec: str | dict[str, Any] | Surrogate | None) -> Surrogate:
    """A surrogate from a name, ``{"name": ..., **params}``, ``{"name": ..., "params": {...}}`` or an instance.

    ``None`` gives the default ``rectangular(width=1)``.
    """
    if spec is None:
        return Rectangular()
    if isinstance(spec, Surrogate):
        return spec
    if isinstance(spec, str):
        return SURROGATES.get(spec)()
    if isinstance(spec, dict):
        if "name" not in spec:
            raise ValueError(f"surrogate spec {spec!r} has no 'name'")
        params = dict(spec.get("params") or {})
        params.update({k: v for k, v in spec.items() if k not in ("name", "params")})
        cls = SURROGATES.get(str(spec["name"]))
        try:
            return cls(**params)
        except TypeError as exc:
            raise ValueError(f"surrogate {spec['name']!r}: bad parameters {params}: {exc}") from None
    raise ValueError(f"surrogate must be a name, a dict or a Surrogate, got {type(spec).__name__}")
