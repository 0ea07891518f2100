"""Spiking neurons as a network of IIR filters (Fang et al., IJCAI 2020, Eq. 4-5 and 18-19).

One layer ``l`` of the family implements, for every time step ``t`` (multi-step tensors ``[T, B, ...]``)::

    F_j[t] = sum_{p=1..P} alpha_{j,p} F_j[t-p] + sum_{q=0..Q} beta_{j,q} O^{l-1}_j[t-q]     (5d) synapse filter
    I_i[t] = sum_j w_{i,j} F_j[t]                                                          (5b) weights
    R_i[t] = theta R_i[t-1] + O_i[t-1]                                                     (5c) reset filter
    V_i[t] = lambda V_i[t-1] + I_i[t] - V_th R_i[t]                                        (5a) neuron filter
    O_i[t] = U(V_i[t] - V_th),  U(x) = 1 if x >= 0 else 0                                  (5e, 5f)

The synapse filter keeps one state per *presynaptic* neuron ``j`` (per axon: every synapse of an
axon has the same spike history, section 3), so it runs on the layer's input before the weights;
the filter is linear and per input element, hence ``I = W (F)`` and the weights are applied to all
``T`` steps at once.  Only the two recursions (Eq. 5d feedback part, Eq. 5a/5c) loop over ``T``.

Presets (:func:`preset_coefficients`) derive ``alpha``/``beta`` exactly as the paper's text does:

* ``dual_exp`` (Eq. 4c): ``alpha_1 = e^{-1/tau_m} + e^{-1/tau_s}``, ``alpha_2 = -e^{-1/tau_m} e^{-1/tau_s}``,
  ``beta_d = e^{-1/tau_m} - e^{-1/tau_s}``; impulse response ``F[t] = k(t + 1 - d)`` with the sampled
  dual-exponential kernel ``k(t) = e^{-t/tau_m} - e^{-t/tau_s}`` of section 2 (``d`` the input delay).
  (The paper prints ``alpha_2 = -e^{(tau_m+tau_s)/(tau_m tau_s)}``; the sign inside the exponent is a
  typo: only ``-e^{-(tau_m+tau_s)/(tau_m tau_s)}`` reproduces the kernel of section 2.)
* ``alpha``: ``alpha_1 = 2 e^{-1/tau}``, ``alpha_2 = -e^{-2/tau}``, ``beta_1 = e^{-1/tau} / tau``; impulse
  response ``F[t] = k(t + 1 - d)``, ``k(t) = (t/tau) e^{-t/tau}``.
* ``lif``: no synapse filter (``P = 0``, ``beta_0 = 1``): ``F = O^{l-1}``.

The paper's Eq. 4c delays the input by one step (``beta x[t-1]``, ``d = 1``); the authors' code uses
the current input (``d = 0``).  ``delay`` selects either; the default is the paper's.

Spikes use the erfc spike probability as surrogate (Eq. 18-19): forward ``U(V - V_th)``, backward
``dU/dV ~ exp(-(V - V_th)^2 / (2 sigma^2)) / (sqrt(2 pi) sigma)`` -- the shared core's registered
``gaussian`` surrogate (:mod:`snnrepro.neurons.surrogate`); any other registered surrogate can be named.

Trainable filter coefficients (Eq. 15-17) come from autograd through the recursion.  ``kernel_param``
chooses how they are parametrised: ``direct`` (the paper and the authors' code: ``alpha``, ``beta`` are
free parameters, nothing keeps the filter stable) or ``poles`` (``alpha`` are the coefficients of
``prod_p (1 - z_p q^-1)`` with real poles ``z_p = sigmoid(r_p)`` in (0, 1), so the filter stays stable and
non-oscillating whatever the optimiser does; ``beta`` stays free).

This module holds the kernels (presets and closed forms, the fused recursions of Eq. 5d and Eq. 5a/5c/5e
with their adjoint backward, :func:`iir_neuron`); the modules built on them (:class:`SynapseFilter`,
:class:`IIRNeuron`, :class:`IIRConfig`) are in :mod:`snnrepro.neurons.iir.layers`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from snnrepro.neurons.lif.kernel import LIFConfig, lif_multistep
from snnrepro.neurons.surrogate import Surrogate, build_surrogate

PRESETS = ("dual_exp", "alpha", "lif", "custom")
KERNEL_PARAMS = ("direct", "poles")
BACKENDS = ("fused", "autograd")


# --------------------------------------------------------------------------- surrogate (Eq. 18-19)
def spike_probability(v: torch.Tensor, v_th: float, sigma: float) -> torch.Tensor:
    """Eq. 18: ``P(v) = erfc((V_th - v) / (sqrt(2) sigma)) / 2``; its derivative (Eq. 19) is the surrogate."""
    return 0.5 * torch.erfc((v_th - v) / (math.sqrt(2.0) * sigma))


def erfc_surrogate(sigma: float = 0.4) -> Surrogate:
    """The shared core's ``gaussian`` surrogate: Heaviside forward, Eq. 19 backward."""
    return build_surrogate({"name": "gaussian", "sigma": sigma})


# --------------------------------------------------------------------------- presets
def preset_coefficients(
    preset: str,
    tau_m: float = 4.0,
    tau_s: float = 1.0,
    tau: float = 2.0,
    delay: int = 1,
    alpha: Sequence[float] | None = None,
    beta: Sequence[float] | None = None,
) -> tuple[list[float], list[float]]:
    """``(alpha_1..alpha_P, beta_0..beta_Q)`` of a preset synapse filter (section 3)."""
    if preset not in PRESETS:
        raise ValueError(f"iir: unknown synapse preset {preset!r}; expected one of {', '.join(PRESETS)}")
    if delay not in (0, 1):
        raise ValueError(f"iir: delay must be 1 (paper, Eq. 4c: x[t-1]) or 0 (authors' code: x[t]), got {delay}")
    if preset == "custom":
        if not beta:
            raise ValueError("iir: preset 'custom' needs 'beta' (feed-forward coefficients beta_0..beta_Q)")
        return [float(a) for a in (alpha or [])], [float(b) for b in beta]
    if alpha is not None or beta is not None:
        raise ValueError(f"iir: 'alpha'/'beta' are only read with preset 'custom', not {preset!r}")
    lead = [0.0] * delay
    if preset == "dual_exp":
        if not tau_m > tau_s > 0:
            raise ValueError(f"iir: dual_exp needs tau_m > tau_s > 0, got tau_m={tau_m}, tau_s={tau_s}")
        pm, ps = math.exp(-1.0 / tau_m), math.exp(-1.0 / tau_s)
        return [pm + ps, -pm * ps], [*lead, pm - ps]
    if preset == "alpha":
        if tau <= 0:
            raise ValueError(f"iir: alpha synapse needs tau > 0, got {tau}")
        p = math.exp(-1.0 / tau)
        return [2.0 * p, -p * p], [*lead, p / tau]
    return [], [1.0]  # lif: the synapse filter is removed (alpha_p = 0, beta_0 = 1)


def dual_exp_kernel(t: torch.Tensor, tau_m: float, tau_s: float) -> torch.Tensor:
    """Closed-form dual-exponential PSP of section 2 without the normaliser: ``e^{-t/tau_m} - e^{-t/tau_s}``."""
    return torch.where(t >= 0, torch.exp(-t / tau_m) - torch.exp(-t / tau_s), torch.zeros_like(t))


def alpha_kernel(t: torch.Tensor, tau: float) -> torch.Tensor:
    """Closed-form alpha PSP ``(t / tau) e^{-t/tau}`` (the impulse response of the alpha preset)."""
    return torch.where(t >= 0, t / tau * torch.exp(-t / tau), torch.zeros_like(t))


def dual_exp_peak_norm(tau_m: float, tau_s: float) -> float:
    """``eta^{eta/(eta-1)} / (eta - 1)``, ``eta = tau_m/tau_s``: scales the dual-exp kernel to unit peak."""
    eta = tau_m / tau_s
    return eta ** (eta / (eta - 1.0)) / (eta - 1.0)


def poly_from_poles(z: torch.Tensor) -> torch.Tensor:
    """Feedback coefficients ``alpha_1..alpha_P`` of ``prod_p (1 - z_p q^-1)``, poles on dim 0."""
    c = [torch.ones_like(z[0])]  # c_0 .. c_k of the product so far, c_0 = 1
    for p in range(z.shape[0]):
        nxt = [c[0]]
        for k in range(1, len(c)):
            nxt.append(c[k] - z[p] * c[k - 1])
        nxt.append(-z[p] * c[-1])
        c = nxt
    return -torch.stack(c[1:])  # F[t] = sum alpha_p F[t-p] + ...  <=>  alpha_p = -c_p


def real_poles(alpha: Sequence[float]) -> list[float]:
    """Roots of ``z^P - alpha_1 z^{P-1} - ... - alpha_P``; must be real and in (0, 1) for ``poles``."""
    import numpy as np

    roots = np.roots([1.0, *[-a for a in alpha]]) if alpha else np.array([])
    if np.any(np.abs(roots.imag) > 1e-9) or np.any(roots.real <= 0) or np.any(roots.real >= 1):
        raise ValueError(f"iir: kernel_param 'poles' needs real poles in (0, 1); alpha={list(alpha)} has {roots}")
    return sorted(float(r) for r in roots.real)


# --------------------------------------------------------------------------- fused kernels (forward + adjoint backward)
def _shift(x: torch.Tensor, k: int) -> torch.Tensor:
    """``y[t] = x[t - k]`` (zeros before the start; ``k < 0`` shifts the other way)."""
    if k == 0:
        return x
    out = torch.zeros_like(x)
    if abs(k) < x.shape[0]:
        if k > 0:
            out[k:] = x[:-k]
        else:
            out[:k] = x[-k:]
    return out


def _lag_corr(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """``sum_{t, batch} a[t] b[t - k]`` per element (``[*S]``)."""
    if k >= a.shape[0]:
        return torch.zeros_like(a[0, 0])
    return (a[k:] * b[: a.shape[0] - k]).sum((0, 1))


def _checked_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"iir: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return backend


class _SynapseFilterFn(torch.autograd.Function):
    """Eq. 5d in one Function: forward recursion, backward by the adjoint (time-reversed) recursion.

    ``a[t] = dL/dF[t] + sum_p alpha_p a[t+p]``;  ``dL/dx[t] = sum_q beta_q a[t+q]``;
    ``dL/dalpha_p = sum_{t,b} a[t] F[t-p]``;  ``dL/dbeta_q = sum_{t,b} a[t] x[t-q]`` (exact BPTT of Eq. 15-17).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        u = beta[0] * x
        for q in range(1, beta.shape[0]):
            u = u + beta[q] * _shift(x, q)
        f = u
        if alpha.shape[0]:
            f = u.clone()
            for t in range(1, u.shape[0]):
                ft = f[t]
                for p in range(1, min(alpha.shape[0], t) + 1):
                    ft.addcmul_(alpha[p - 1], f[t - p])
        ctx.save_for_backward(x, f, alpha, beta)
        return f

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        x, f, alpha, beta = ctx.saved_tensors
        steps, order_p = grad.shape[0], alpha.shape[0]
        adj = grad
        if order_p:
            adj = grad.clone()
            for t in range(steps - 2, -1, -1):
                at = adj[t]
                for p in range(1, min(order_p, steps - 1 - t) + 1):
                    at.addcmul_(alpha[p - 1], adj[t + p])
        gx = ga = gb = None
        if ctx.needs_input_grad[0]:
            gx = beta[0] * adj
            for q in range(1, beta.shape[0]):
                gx = gx + beta[q] * _shift(adj, -q)
        if ctx.needs_input_grad[1]:
            lags = range(1, order_p + 1)
            ga = torch.stack([_lag_corr(adj, f, p) for p in lags]) if order_p else torch.zeros_like(alpha)
        if ctx.needs_input_grad[2]:
            gb = torch.stack([_lag_corr(adj, x, q) for q in range(beta.shape[0])])
        return gx, ga, gb


class _NeuronFn(torch.autograd.Function):
    """Eq. 5a/5c/5e in one Function; backward by the adjoint recursion of Eq. 9-12.

    With ``d[t] = g'(V[t] - V_th)`` (the surrogate): ``omega[t] = dL/dO[t] + rho[t+1]`` (reset path,
    dropped with ``detach_reset``), ``nu[t] = omega[t] d[t] + lam nu[t+1]`` (= dL/dV[t] = dL/dI[t]),
    ``rho[t] = theta rho[t+1] - amp nu[t]``.
    """

    @staticmethod
    def forward(ctx, current, lam, theta, v_th, amp, sg, detach_reset):  # type: ignore[override]
        v = torch.zeros_like(current[0])
        r = torch.zeros_like(current[0])
        o = torch.zeros_like(current[0])
        mem = torch.empty_like(current)
        out = torch.empty_like(current)
        for t in range(current.shape[0]):
            r = theta * r + o
            v = lam * v + current[t] - amp * r
            o = (v >= v_th).to(current.dtype)
            mem[t], out[t] = v, o
        ctx.save_for_backward(mem)
        ctx.cfg = (lam, theta, v_th, amp, sg, detach_reset)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (mem,) = ctx.saved_tensors
        lam, theta, v_th, amp, sg, detach_reset = ctx.cfg
        d = sg.grad(mem - v_th)
        g_cur = torch.empty_like(grad)
        nu = torch.zeros_like(grad[0])
        rho = torch.zeros_like(grad[0])
        for t in range(grad.shape[0] - 1, -1, -1):
            omega = grad[t] if detach_reset else grad[t] + rho
            nu = omega * d[t] + lam * nu
            rho = theta * rho - amp * nu
            g_cur[t] = nu
        return g_cur, None, None, None, None, None, None


# --------------------------------------------------------------------------- neuron + reset filters (Eq. 5a, 5c, 5e)
def is_soft_reset_lif(lam: float, theta: float, v_th: float, reset_scale: float) -> bool:
    """True when Eq. 5a/5c is the core's soft-reset LIF: ``theta = 0`` and a reset impulse ``lam V_th``.

    Then ``V[t] = lam V[t-1] + I[t] - lam V_th O[t-1] = lam (V[t-1] - V_th O[t-1]) + I[t]``, the LIF core's
    ``h_t = lam u_{t-1} + x_t``, ``u_t = h_t - V_th o_t`` (same spikes, same BPTT through the reset).
    """
    return theta == 0.0 and math.isclose(reset_scale * v_th, lam * v_th, rel_tol=1e-12, abs_tol=0.0)


def soft_reset_lif_config(lam: float, v_th: float, sg: Surrogate, detach_reset: bool) -> LIFConfig:
    """The :class:`~snnrepro.neurons.lif.LIFConfig` that :func:`is_soft_reset_lif` neurons run as."""
    return LIFConfig(decay=lam, threshold=v_th, reset="soft", detach_reset=detach_reset, surrogate=sg)


def iir_neuron(
    current: torch.Tensor,
    lam: float,
    theta: float,
    v_th: float = 1.0,
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
    reset_scale: float = 1.0,
    return_membrane: bool = False,
    backend: str = "autograd",
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Spikes ``O[T, B, ...]`` of Eq. 5a/5c/5e for the weighted input ``I[T, B, ...]`` (zero initial state).

    ``V[t] = lam V[t-1] + I[t] - reset_scale v_th R[t]``, ``R[t] = theta R[t-1] + O[t-1]``,
    ``O[t] = U(V[t] - v_th)`` with ``surrogate`` (default: Eq. 19, sigma 0.4) in the backward pass.
    ``reset_scale`` is 1 in the paper (a reset impulse of size ``V_th``); ``reset_scale = lam`` with
    ``theta = 0`` turns the neuron into the soft-reset LIF ``V[t] = lam (V[t-1] - v_th O[t-1]) + I[t]``.
    Gradients flow through the reset path (Eq. 11-12) unless ``detach_reset``.  With
    ``return_membrane`` also ``V[T, B, ...]``.  ``backend``: ``autograd`` (step-by-step autograd, the
    reference; honours a surrogate's own ``spike``) or ``fused`` (one Function with the adjoint backward;
    a neuron that is exactly the core's soft-reset LIF, :func:`is_soft_reset_lif`, runs the core's fused
    :class:`~snnrepro.neurons.lif.LIFFunction` instead -- same spikes and gradients, fewer passes per step).
    """
    sg = surrogate if surrogate is not None else erfc_surrogate()
    amp = reset_scale * v_th
    if backend == "fused" and not return_membrane:
        if is_soft_reset_lif(lam, theta, v_th, reset_scale):
            return lif_multistep(current, config=soft_reset_lif_config(lam, v_th, sg, detach_reset))
        return _NeuronFn.apply(current, lam, theta, v_th, amp, sg, detach_reset)
    v = torch.zeros_like(current[0])
    r = torch.zeros_like(current[0])
    o = torch.zeros_like(current[0])
    out, mem = [], []
    for i_t in current.unbind(0):
        r = theta * r + (o.detach() if detach_reset else o)
        v = lam * v + i_t - amp * r
        o = sg.spike(v - v_th)
        out.append(o)
        if return_membrane:
            mem.append(v)
    spikes = torch.stack(out)
    return (spikes, torch.stack(mem)) if return_membrane else spikes
