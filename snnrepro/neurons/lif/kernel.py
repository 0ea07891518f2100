"""Multi-step leaky integrate-and-fire (LIF) neurons with surrogate, BPSA and BPTA gradients.

Dynamics (discrete time, one step per input frame; ``x_t`` is the synaptic input current)::

    h_t = lambda * u_{t-1} + x_t                  membrane before the spike check (charge)
    o_t = H(h_t - theta)                          spike (1 where h_t >= theta)
    u_t = reset(h_t, o_t)                         membrane carried to the next step
          hard:  u_t = h_t (1 - o_t) + v_reset o_t
          soft:  u_t = h_t - theta o_t            (reset by subtraction)
          none:  u_t = h_t
    u_{-1} = v_init (default: v_reset for hard reset, else 0)

so ``u_t = lambda * u_{t-1}(after reset) + x_t``: the BPSA/BPTA paper's Eq. 4 (authors' code: hard
reset to 0, then decay), SpikingJelly's/snnTorch's LIF with decay ``lambda`` and BRP's Eq. 2 with
``g = lambda``.  ``refractory = R > 0``: for the R steps after a spike the membrane is frozen
(``h_t = u_{t-1}``, no leak, input discarded) and the neuron cannot fire (BRP's "Spike flag that blocks
the update of V during the refractory period").

Gradients (``adjust``):

* ``"none"`` - surrogate BPTT (Wu et al. STBP; the BPSA/BPTA authors' baseline ``SGLIFNode``):
  ``do_t/dh_t = g'(h_t - theta)`` from a :mod:`surrogate <snnrepro.neurons.surrogate>`; the reset
  path carries gradient unless ``detach_reset`` (hard: ``du_t/do_t = v_reset - h_t``; soft: ``-theta``).
* ``"bpsa"`` - Eq. 9: ``do_t/dh_t = 1/h_t`` where the neuron fired, 0 elsewhere (forward still 1).
* ``"bpsa_bpta"`` - Eq. 9 and Eq. 10: additionally a residual temporal path across spikes,
  ``du_t/do_t += alpha``, so ``dh_{t+1}/dh_t = lambda [(1 - o_t) + alpha do_t/dh_t]``.  The authors'
  code realises it as ``u_t += alpha (o_t - o_t.detach())`` (zero in the forward pass).
* ``"bpta"`` - the residual path with the plain surrogate derivative (not in the paper; an ablation).

The paper's modes use ``detach_reset=True`` for BPSA/BPSA+BPTA (the authors reset with a
``where``-select, which carries no gradient through ``o``) and ``detach_reset=False`` for the
baseline (``u = lambda h (1 - o)``).  :data:`GRADIENT_MODES` maps the spec names
``baseline | bpsa | bpsa_bpta`` to these settings.

Full backward (what :class:`LIFFunction` computes; ``D_t = do_t/dh_t``, ``a_t = du_t/dh_t|_o``,
``b_t = du_t/do_t``, ``r_t`` = refractory mask)::

    dL/du_{t}   = (lambda (1 - r_{t+1}) + r_{t+1}) dL/dh_{t+1}
    dL/dh_t     = (dL/do_t + dL/du_t * b_t) * D_t + dL/du_t * a_t
    dL/dx_t     = (1 - r_t) dL/dh_t

API (``x_seq`` is ``[T, B, ...]``; synaptic layers are applied to ``[T*B, ...]`` outside)::

    lif_multistep(x_seq, decay=0.9, threshold=0.5, reset="hard", v_reset=0.0, detach_reset=False,
                  refractory=0, surrogate="rectangular", adjust="none", alpha=0.2, v_init=None,
                  return_membrane=False, backend="fused")  -> spikes [T, B, ...]  (or (spikes, h))
                  (backend: "fused" | "autograd" | "triton" | "auto")
    LIF(**same keyword arguments) -> nn.Module, forward(x_seq) -> spikes
    LIFConfig(...)                  -> the frozen settings object both use
    GRADIENT_MODES["baseline" | "bpsa" | "bpsa_bpta"] -> dict(adjust=..., detach_reset=...)

``backend="fused"`` (default) runs the whole time loop in one ``autograd.Function`` that saves only
the pre-reset membrane ``h`` (and reuses the output spikes), and computes the backward above in place;
``backend="autograd"`` is the same forward written step by step with ordinary autograd (the
BPSA/BPTA authors' construction ``o = where(h >= theta, h, 0) / h.detach()``), the reference the
tests compare against; ``backend="triton"`` runs the loop as two Triton kernels on CUDA
(:mod:`snnrepro.neurons.lif.triton_kernel`: one pass over ``x`` forward, a recompute plus a reverse pass
backward; saves nothing but ``x`` and the spikes) and raises a ``ValueError`` naming what it does not
support (float64, a surrogate outside the built-in six, a CPU tensor outside Triton's interpreter);
``backend="auto"`` is ``triton`` for CUDA tensors it supports, ``fused`` otherwise (so always ``fused``
on the CPU; triton is imported only when a CUDA tensor or ``triton`` asks for it).  ``h`` returned with
``return_membrane`` carries no gradient.

The layer built on this kernel (:class:`~snnrepro.neurons.lif.layers.LIF`) is in
:mod:`snnrepro.neurons.lif.layers`.

Settings the other families use: BRP-SNN - ``decay=0.2, threshold=0.5, reset="hard", v_reset=0,
refractory=1, surrogate={"name": "rectangular", "width": 1.0}``; IIR-SNN's plain-LIF comparison -
``surrogate={"name": "gaussian", "sigma": 0.4}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from snnrepro.neurons.surrogate import Surrogate, build_surrogate

ADJUSTMENTS = ("none", "bpsa", "bpta", "bpsa_bpta")
RESETS = ("hard", "soft", "none")
BACKENDS = ("fused", "autograd", "triton", "auto")

GRADIENT_MODES: dict[str, dict[str, Any]] = {
    "baseline": {"adjust": "none", "detach_reset": False},
    "bpsa": {"adjust": "bpsa", "detach_reset": True},
    "bpsa_bpta": {"adjust": "bpsa_bpta", "detach_reset": True},
}
"""Spec names (``model.params.gradient``) of the BPSA/BPTA paper's three training modes (Tables 4, 6)."""


@dataclass(frozen=True)
class LIFConfig:
    """Validated settings of a multi-step LIF population (see the module docstring for each)."""

    decay: float = 0.9
    threshold: float = 0.5
    reset: str = "hard"
    v_reset: float = 0.0
    detach_reset: bool = False
    refractory: int = 0
    surrogate: Surrogate = field(default_factory=lambda: build_surrogate(None))
    adjust: str = "none"
    alpha: float = 0.2
    v_init: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "surrogate", build_surrogate(self.surrogate))
        if self.reset not in RESETS:
            raise ValueError(f"LIF: reset must be one of {RESETS}, got {self.reset!r}")
        if self.adjust not in ADJUSTMENTS:
            raise ValueError(f"LIF: adjust must be one of {ADJUSTMENTS}, got {self.adjust!r}")
        if not 0.0 <= float(self.decay) <= 1.0:
            raise ValueError(f"LIF: decay (lambda) must lie in [0, 1], got {self.decay}")
        if int(self.refractory) != self.refractory or self.refractory < 0:
            raise ValueError(f"LIF: refractory must be a non-negative integer number of steps, got {self.refractory}")
        if self.adjust in ("bpsa", "bpsa_bpta") and not self.threshold > 0:
            raise ValueError(f"LIF: BPSA (do/du = 1/u) needs a positive threshold, got {self.threshold}")
        if self.reset == "hard" and self.refractory and self.v_reset >= self.threshold:
            raise ValueError("LIF: v_reset must lie below the threshold")
        object.__setattr__(self, "decay", float(self.decay))
        object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "v_reset", float(self.v_reset))
        object.__setattr__(self, "alpha", float(self.alpha))
        object.__setattr__(self, "refractory", int(self.refractory))

    @property
    def initial(self) -> float:
        if self.v_init is not None:
            return float(self.v_init)
        return self.v_reset if self.reset == "hard" else 0.0

    @property
    def bpsa(self) -> bool:
        return self.adjust in ("bpsa", "bpsa_bpta")

    @property
    def residual(self) -> float:
        """BPTA's alpha, or 0 when the residual temporal path is off."""
        return self.alpha if self.adjust in ("bpta", "bpsa_bpta") else 0.0


def _refractory_mask(spikes: torch.Tensor, t: int, steps: int) -> torch.Tensor | None:
    """1 where the neuron fired within the last ``steps`` steps before ``t`` (as ``spikes.dtype``)."""
    if steps == 0 or t == 0:
        return None
    return spikes[max(0, t - steps) : t].amax(0)


class LIFFunction(torch.autograd.Function):
    """The whole LIF time loop as one autograd node (forward and backward in the module docstring).

    Saves only the pre-reset membrane ``h`` and the output spikes (which the next layer keeps alive
    anyway); per-step work uses ``out=``/in-place ops on preallocated buffers, so one step costs three
    elementwise passes forward and about five plus the surrogate's in backward.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, cfg: LIFConfig) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        steps = x.shape[0]
        h_all = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        o_all = torch.empty_like(h_all)
        lam, theta, vr = cfg.decay, cfg.threshold, cfg.v_reset
        u_buf = torch.empty_like(h_all[0])
        u: torch.Tensor | None = None
        for t in range(steps):
            h = h_all[t]
            if u is None:
                torch.add(x[t], lam * cfg.initial, out=h)
            else:
                torch.add(x[t], u, alpha=lam, out=h)
            r = _refractory_mask(o_all, t, cfg.refractory)
            if r is not None and u is not None:
                torch.where(r.bool(), u, h, out=h)
            o = o_all[t]
            torch.ge(h, theta, out=o)
            if r is not None:
                o.mul_(1.0 - r)
            if cfg.reset == "hard":
                u = torch.addcmul(h, o, h, value=-1.0, out=u_buf)  # h (1 - o)
                if vr != 0.0:
                    u.add_(o, alpha=vr)
            elif cfg.reset == "soft":
                u = torch.add(h, o, alpha=-theta, out=u_buf)
            else:
                u = h
        ctx.cfg = cfg
        ctx.save_for_backward(h_all, o_all)
        ctx.mark_non_differentiable(h_all)
        return o_all, h_all

    @staticmethod
    def backward(ctx: Any, grad_o: torch.Tensor, _grad_h: torch.Tensor | None) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        cfg: LIFConfig = ctx.cfg
        h_all, o_all = ctx.saved_tensors
        lam, theta, alpha = cfg.decay, cfg.threshold, cfg.residual
        hard, soft = cfg.reset == "hard", cfg.reset == "soft"
        c_hard = cfg.v_reset + alpha  # b_t = c_hard - h_t for a differentiated hard reset
        grad_x = torch.empty_like(h_all)
        if grad_o is None:
            grad_o = torch.zeros_like(h_all)
        d = torch.empty_like(h_all[0])
        tot = torch.empty_like(h_all[0])
        g_next: torch.Tensor | None = None  # dL/dh_{t+1}
        r_next: torch.Tensor | None = None  # refractory mask of step t+1
        for t in range(h_all.shape[0] - 1, -1, -1):
            h, o, g_o, g_h = h_all[t], o_all[t], grad_o[t], grad_x[t]
            r = _refractory_mask(o_all, t, cfg.refractory)
            # D_t = do_t / dh_t
            if cfg.bpsa:
                torch.div(o, torch.clamp_min(h, theta, out=d), out=d)  # 1/h where fired (h >= theta > 0), else 0
            else:
                cfg.surrogate.grad_(torch.sub(h, theta, out=d))
                if r is not None:
                    d.mul_(1.0 - r)
            if g_next is None:
                torch.mul(g_o, d, out=g_h)
            else:
                # dL/du_t = k * g_u with k = lambda, or lambda (1 - r_{t+1}) + r_{t+1} under refractoriness
                if r_next is None:
                    g_u, k = g_next, lam
                else:
                    g_u, k = g_next * (lam + (1.0 - lam) * r_next), 1.0
                # (dL/do_t + dL/du_t * b_t) with b_t from the reset path (unless detached) and BPTA's alpha
                if hard and not cfg.detach_reset:
                    g_tot = torch.addcmul(g_o, g_u, h, value=-k, out=tot)
                    if c_hard != 0.0:
                        g_tot.add_(g_u, alpha=k * c_hard)
                elif soft and not cfg.detach_reset:
                    g_tot = torch.add(g_o, g_u, alpha=k * (alpha - theta), out=tot)
                elif alpha != 0.0:
                    g_tot = torch.add(g_o, g_u, alpha=k * alpha, out=tot)
                else:
                    g_tot = g_o
                torch.mul(g_tot, d, out=g_h)
                # + dL/du_t * a_t,  a_t = (1 - o_t) for hard reset, 1 otherwise
                g_h.add_(g_u, alpha=k)
                if hard:
                    g_h.addcmul_(g_u, o, value=-k)
            g_next, r_next = g_h, r
            if r is not None:
                g_next = g_h.clone()
                g_h.mul_(1.0 - r)  # dL/dx_t = (1 - r_t) dL/dh_t
        return grad_x, None


def _lif_autograd(x: torch.Tensor, cfg: LIFConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: the same forward step by step, gradients by ordinary autograd."""
    lam, theta = cfg.decay, cfg.threshold
    u: torch.Tensor | float = cfg.initial
    outs, hs = [], []
    fired: list[torch.Tensor] = []
    for t in range(x.shape[0]):
        h = lam * u + x[t]
        r = None
        if cfg.refractory and t > 0:
            r = torch.stack(fired[max(0, t - cfg.refractory) : t]).amax(0)
            h = torch.where(r.bool(), u, h)
        if cfg.bpsa:  # the authors' construction: forward 1, backward 1/h where fired
            o = torch.where(h >= theta, h, torch.zeros_like(h)) / h.detach().clamp_min(theta)
        else:
            o = cfg.surrogate.spike(h - theta)
        if r is not None:
            o = o * (1.0 - r)
        o_reset = o.detach() if cfg.detach_reset else o
        if cfg.reset == "hard":
            u = h * (1.0 - o_reset) + cfg.v_reset * o_reset
        elif cfg.reset == "soft":
            u = h - theta * o_reset
        else:
            u = h
        if cfg.residual:
            u = u + cfg.residual * (o - o.detach())
        fired.append(o.detach())
        outs.append(o)
        hs.append(h.detach())
    return torch.stack(outs), torch.stack(hs)


def lif_multistep(
    x_seq: torch.Tensor,
    *,
    decay: float = 0.9,
    threshold: float = 0.5,
    reset: str = "hard",
    v_reset: float = 0.0,
    detach_reset: bool = False,
    refractory: int = 0,
    surrogate: str | dict[str, Any] | Surrogate | None = "rectangular",
    adjust: str = "none",
    alpha: float = 0.2,
    v_init: float | None = None,
    return_membrane: bool = False,
    backend: str = "fused",
    config: LIFConfig | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Spikes ``[T, B, ...]`` of a LIF population driven by input currents ``x_seq`` ``[T, B, ...]``.

    Keyword arguments as in the module docstring; ``config`` (a :class:`LIFConfig`) replaces them all.
    With ``return_membrane`` also returns the pre-reset membrane ``h`` ``[T, B, ...]`` (no gradient).
    """
    cfg = config or LIFConfig(
        decay=decay,
        threshold=threshold,
        reset=reset,
        v_reset=v_reset,
        detach_reset=detach_reset,
        refractory=refractory,
        surrogate=build_surrogate(surrogate),
        adjust=adjust,
        alpha=alpha,
        v_init=v_init,
    )
    if x_seq.dim() < 2:
        raise ValueError(f"lif_multistep: expected [T, B, ...] input, got shape {tuple(x_seq.shape)}")
    if backend not in BACKENDS:
        raise ValueError(f"lif_multistep: backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        backend = "triton" if x_seq.is_cuda and triton_unsupported(x_seq, cfg) is None else "fused"
    if backend == "fused":
        spikes, h = LIFFunction.apply(x_seq, cfg)
    elif backend == "autograd":
        spikes, h = _lif_autograd(x_seq, cfg)
    else:
        module = _triton_module()
        if module is None:
            raise ValueError(f"lif_multistep: backend 'triton' needs the triton package ({_TRITON_ERROR[0]})")
        spikes, h = module.lif_triton(x_seq, cfg, store_h=return_membrane)
    return (spikes, h) if return_membrane else spikes


_TRITON_ERROR: list[str] = []


def _triton_module() -> Any:
    """:mod:`snnrepro.neurons.lif.triton_kernel`, imported on first use; ``None`` where triton does not import."""
    if _TRITON_ERROR:
        return None
    try:
        from snnrepro.neurons.lif import triton_kernel
    except ImportError as exc:  # triton missing or broken: auto falls back to fused
        _TRITON_ERROR.append(f"{type(exc).__name__}: {exc}")
        return None
    return triton_kernel


def triton_unsupported(x: torch.Tensor, cfg: LIFConfig) -> str | None:
    """Why ``backend="triton"`` cannot run ``cfg`` on ``x`` (``None`` if it can): what ``auto`` checks."""
    module = _triton_module()
    if module is None:
        return f"triton does not import ({_TRITON_ERROR[0]})"
    return module.unsupported(x, cfg)  # type: ignore[no-any-return]
