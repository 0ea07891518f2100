"""IIR-SNN modules around the kernels of :mod:`snnrepro.neurons.iir.kernel` (Fang et al., IJCAI 2020, Eq. 5).

* :class:`SynapseFilter` -- Eq. 5d per presynaptic element,
  ``F[t] = sum_p alpha_p F[t-p] + sum_q beta_q x[t-q]``, with trainable ``alpha``/``beta`` (``direct``) or
  real poles in (0, 1) (``poles``);
* :class:`IIRNeuron` -- Eq. 5a/5c/5e, ``V[t] = lam V[t-1] + I[t] - V_th R[t]``, ``R[t] = theta R[t-1] + O[t-1]``,
  ``O[t] = U(V[t] - V_th)`` with the erfc surrogate (Eq. 18-19);
* :class:`IIRConfig` -- the family's neuron params, building both.

The presets, the paper's notes and the gradients are described in :mod:`snnrepro.neurons.iir.kernel`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from snnrepro.neurons.iir.kernel import (
    KERNEL_PARAMS,
    _checked_backend,
    _SynapseFilterFn,
    dual_exp_peak_norm,
    erfc_surrogate,
    iir_neuron,
    poly_from_poles,
    preset_coefficients,
    real_poles,
)
from snnrepro.neurons.surrogate import Surrogate, build_surrogate


# --------------------------------------------------------------------------- synapse filter (Eq. 5d)
class SynapseFilter(nn.Module):
    """Eq. 5d per presynaptic element: ``F[t] = sum_p alpha_p F[t-p] + sum_q beta_q x[t-q]``.

    ``shape`` is the shape of one time step of one sample (``(N,)`` or ``(C, H, W)``); every element has
    its own ``alpha_{j,p}``, ``beta_{j,q}`` (initialised to the preset's values), trainable when
    ``trainable``.  Input and output ``[T, B, *shape]``; zero initial state.
    """

    def __init__(
        self,
        shape: Sequence[int],
        alpha: Sequence[float],
        beta: Sequence[float],
        trainable: bool = True,
        kernel_param: str = "direct",
        backend: str = "fused",
    ) -> None:
        super().__init__()
        self.backend = _checked_backend(backend)
        if kernel_param not in KERNEL_PARAMS:
            raise ValueError(f"iir: kernel_param must be one of {', '.join(KERNEL_PARAMS)}, got {kernel_param!r}")
        if not beta:
            raise ValueError("iir: a synapse filter needs at least beta_0")
        self.shape = tuple(int(s) for s in shape)
        self.kernel_param = kernel_param
        self.order_p, self.order_q = len(alpha), len(beta) - 1
        ones = torch.ones(self.shape)
        b = torch.stack([v * ones for v in beta])
        self.beta = nn.Parameter(b, requires_grad=trainable)
        if kernel_param == "poles":
            z = torch.tensor(real_poles(alpha), dtype=torch.float64) if alpha else torch.zeros(0, dtype=torch.float64)
            raw = torch.log(z / (1 - z)).float()
            self.pole_logit = nn.Parameter(
                torch.stack([v * ones for v in raw]) if len(raw) else torch.zeros(0, *self.shape),
                requires_grad=trainable,
            )
        else:
            a = torch.stack([v * ones for v in alpha]) if alpha else torch.zeros(0, *self.shape)
            self.alpha_direct = nn.Parameter(a, requires_grad=trainable)
        # plain LIF (no feedback, beta = [1]) needs no work at all when the coefficient is frozen
        self.identity = not trainable and self.order_p == 0 and list(beta) == [1.0]

    @property
    def alpha(self) -> torch.Tensor:
        """Feedback coefficients ``[P, *shape]``."""
        if self.kernel_param == "poles":
            if self.order_p == 0:
                return self.pole_logit
            return poly_from_poles(torch.sigmoid(self.pole_logit))
        return self.alpha_direct

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != self.shape:
            raise ValueError(f"iir synapse filter expects [T, B, {self.shape}], got {tuple(x.shape)}")
        if self.identity:
            return x
        if self.backend == "fused":
            return _SynapseFilterFn.apply(x, self.alpha.to(x.dtype), self.beta.to(x.dtype))
        steps = x.shape[0]
        beta = self.beta.to(x.dtype)
        u = beta[0] * x  # feed-forward part for all steps at once
        for q in range(1, self.order_q + 1):
            if q < steps:
                u = u + torch.cat((torch.zeros_like(x[:q]), beta[q] * x[:-q]))
        if self.order_p == 0:
            return u
        alpha = self.alpha.to(x.dtype)
        hist: list[torch.Tensor] = []
        for t, f in enumerate(u.unbind(0)):  # unbind: one backward for all steps (indexing would zero-fill T times)
            for p in range(1, min(self.order_p, t) + 1):
                f = f + alpha[p - 1] * hist[t - p]
            hist.append(f)
        return torch.stack(hist)

    def impulse_response(self, steps: int) -> torch.Tensor:
        """``[steps, *shape]`` response to one input spike at ``t = 0`` (the kernel of Fig. 5)."""
        x = torch.zeros(steps, 1, *self.shape, dtype=self.beta.dtype, device=self.beta.device)
        x[0] = 1.0
        with torch.no_grad():
            return self.forward(x)[:, 0]

    def extra_repr(self) -> str:
        return f"shape={self.shape}, P={self.order_p}, Q={self.order_q}, kernel_param={self.kernel_param}"


class IIRNeuron(nn.Module):
    """Module form of :func:`iir_neuron` with fixed ``lam`` (lambda), ``theta``, ``v_th`` and surrogate."""

    def __init__(
        self,
        lam: float,
        theta: float,
        v_th: float = 1.0,
        surrogate: str | dict | Surrogate | None = None,
        detach_reset: bool = False,
        reset_scale: float = 1.0,
        backend: str = "fused",
    ) -> None:
        super().__init__()
        self.backend = _checked_backend(backend)
        if v_th <= 0:
            raise ValueError(f"iir: threshold v_th must be positive, got {v_th}")
        self.lam, self.theta, self.v_th = float(lam), float(theta), float(v_th)
        self.surrogate = build_surrogate(surrogate) if surrogate is not None else erfc_surrogate()
        self.detach_reset, self.reset_scale = detach_reset, float(reset_scale)

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        return iir_neuron(  # type: ignore[return-value]
            current, self.lam, self.theta, self.v_th, self.surrogate, self.detach_reset, self.reset_scale,
            backend=self.backend,
        )

    def extra_repr(self) -> str:
        return f"lambda={self.lam:.4g}, theta={self.theta:.4g}, v_th={self.v_th:g}, surrogate={self.surrogate}"


# --------------------------------------------------------------------------- the family's neuron params
def default_lambda(preset: str, tau_m: float) -> float:
    """Neuron filter lambda when the spec gives none.

    ``dual_exp``/``alpha``/``custom``: 0 -- Eq. 4a has no ``v[t-1]`` term because the membrane time
    constant is already inside the PSP kernel (and the authors' code keeps ``membrane_filter`` off).
    ``lif``: ``e^{-1/tau_m}``, the plain leaky neuron the paper says the preset reduces to.
    """
    return math.exp(-1.0 / tau_m) if preset == "lif" else 0.0


@dataclass(frozen=True)
class IIRConfig:
    """Synapse filter and neuron of every IIR layer (the ``iir`` family's neuron params, declared once).

    Synapse filter: ``preset`` ``dual_exp`` (``tau_m``, ``tau_s``), ``alpha`` (``tau``), ``lif`` (no
    filter) or ``custom`` (``alpha`` = [alpha_1..alpha_P], ``beta`` = [beta_0..beta_Q]); ``delay`` 1 =
    Eq. 4c ``x[t-1]``, 0 = ``x[t]``; ``psp_norm`` unit-peak dual-exp kernel; ``train_kernel`` learns
    alpha/beta, ``kernel_param`` ``direct`` | ``poles``.  Neuron: ``lam`` (default
    :func:`default_lambda`), reset filter ``theta`` (default ``e^{-1/tau_r}``, ``tau_r`` default
    ``tau_m``), ``v_th``, surrogate ``sigma`` (the ``gaussian`` surrogate) or another ``surrogate``,
    ``detach_reset``, ``reset_scale``.  ``backend`` ``fused`` | ``autograd`` for both.  The methods
    raise ``ValueError`` for params that do not go together.
    """

    preset: str = "dual_exp"
    tau_m: float = 4.0
    tau_s: float = 1.0
    tau: float = 2.0
    delay: int = 1
    alpha: list[float] | None = None
    beta: list[float] | None = None
    psp_norm: bool = False
    lam: float | None = None
    tau_r: float | None = None
    theta: float | None = None
    v_th: float = 1.0
    sigma: float = 0.4
    surrogate: str | dict[str, Any] | None = None
    detach_reset: bool = False
    reset_scale: float = 1.0
    train_kernel: bool = True
    kernel_param: str = "direct"
    backend: str = "fused"

    def coefficients(self) -> tuple[list[float], list[float]]:
        """``(alpha_1..alpha_P, beta_0..beta_Q)`` of the synapse filter, with ``psp_norm`` applied."""
        a, b = preset_coefficients(self.preset, self.tau_m, self.tau_s, self.tau, self.delay, self.alpha, self.beta)
        if self.psp_norm:
            if self.preset != "dual_exp":
                raise ValueError(f"iir: psp_norm applies to the dual_exp preset only, not {self.preset!r}")
            b = [x * dual_exp_peak_norm(self.tau_m, self.tau_s) for x in b]
        return a, b

    def decays(self) -> tuple[float, float]:
        """The neuron's ``(lam, theta)`` with their defaults, both checked to lie in [0, 1]."""
        lam = default_lambda(self.preset, self.tau_m) if self.lam is None else float(self.lam)
        tau_r = self.tau_r if self.tau_r is not None else self.tau_m
        theta = float(self.theta) if self.theta is not None else math.exp(-1.0 / float(tau_r))
        if not (0.0 <= lam <= 1.0 and 0.0 <= theta <= 1.0):
            raise ValueError(f"iir: lam and theta must lie in [0, 1], got lam={lam}, theta={theta}")
        return lam, theta

    def neuron(self) -> IIRNeuron:
        """A fresh :class:`IIRNeuron` with these settings."""
        lam, theta = self.decays()
        sg = self.surrogate if self.surrogate is not None else {"name": "gaussian", "sigma": self.sigma}
        return IIRNeuron(lam, theta, self.v_th, sg, self.detach_reset, self.reset_scale, self.backend)

    def synapse(self, shape: Sequence[int]) -> SynapseFilter:
        """A fresh :class:`SynapseFilter` for input axons of per-step ``shape``."""
        a, b = self.coefficients()
        return SynapseFilter(shape, a, b, self.train_kernel, self.kernel_param, self.backend)
