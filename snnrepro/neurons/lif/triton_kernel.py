"""The multi-step LIF time loop as two Triton kernels (``backend="triton"``; GPU, or Triton's CPU interpreter).

Same dynamics and backward as :class:`~snnrepro.neurons.lif.kernel.LIFFunction` (equations in
:mod:`snnrepro.neurons.lif.kernel`); the input ``x [T, B, ...]`` is read as ``[T, N]`` and each program
owns ``BLOCK`` neurons for all ``T`` steps:

* forward (:func:`_lif_fwd`): one pass over ``x``; the membrane ``u``, and under refractoriness a
  countdown of the blocked steps, live in registers; writes the spikes (and ``h`` only when the caller
  asks for the membrane).  Saved for backward: the input ``x`` and the output spikes, nothing else
  (both are held by the neighbouring layers anyway: ReLU keeps its output, the next synapse its input).
* backward (:func:`_lif_bwd`): first recomputes ``h_t`` step by step (resetting with the saved spikes, so
  the trajectory is the forward's) into the ``dL/dx`` buffer, then walks ``t = T-1 .. 0`` once,
  overwriting each ``h_t`` with ``dL/dx_t`` (surrogate or BPSA ``1/h`` derivative, reset path unless
  detached, BPTA's ``alpha``, refractory masks read back from the saved spikes).

Arithmetic is float32 in registers whatever the storage dtype (float32, float16, bfloat16).
Supported: every reset, adjustment, gradient mode, ``detach_reset``, ``v_reset``, ``v_init``,
refractoriness, and the surrogates in :data:`SURROGATE_CODES`; :func:`unsupported` names anything
else (``backend="auto"`` then uses the fused PyTorch loop, ``backend="triton"`` raises).

Importing this module imports ``triton``; :mod:`snnrepro.neurons.lif.kernel` imports it lazily, only
for CUDA tensors or an explicit ``backend="triton"``.  With ``TRITON_INTERPRET=1`` set before this
module is imported the kernels run in Triton's interpreter on CPU tensors (what the tests do).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import triton
import triton.language as tl

from snnrepro.neurons.lif.kernel import LIFConfig
from snnrepro.registry import SURROGATES

SURROGATE_CODES = {"rectangular": 0, "triangle": 1, "sigmoid": 2, "atan": 3, "fast_sigmoid": 4, "gaussian": 5}
"""Surrogate name -> the kernel's ``SG`` code; the one parameter of each is passed as ``sg_p``."""
_SURROGATE_PARAM = {"rectangular": "width", "triangle": "width", "sigmoid": "alpha", "atan": "alpha",
                    "fast_sigmoid": "slope", "gaussian": "sigma"}  # fmt: skip
RESET_CODES = {"hard": 0, "soft": 1, "none": 2}
DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@triton.jit
def _surrogate(v, p, SG: tl.constexpr):
    """``g'(v)`` of surrogate ``SG`` with parameter ``p`` (formulas of :mod:`snnrepro.neurons.surrogate`)."""
    if SG == 0:  # rectangular, p = width
        d = tl.where(tl.abs(v) < p * 0.5, 1.0 / p, 0.0)
    elif SG == 1:  # triangle, p = width
        d = tl.maximum(1.0 - tl.abs(v) / p, 0.0) / p
    elif SG == 2:  # sigmoid, p = alpha
        s = tl.sigmoid(p * v)
        d = p * s * (1.0 - s)
    elif SG == 3:  # atan, p = alpha
        z = 1.5707963267948966 * p * v  # pi/2
        d = (0.5 * p) / (1.0 + z * z)
    elif SG == 4:  # fast_sigmoid, p = slope
        z = 1.0 + p * tl.abs(v)
        d = 1.0 / (z * z)
    else:  # gaussian, p = sigma
        d = tl.exp(-(v * v) / (2.0 * p * p)) * (0.3989422804014327 / p)  # 1/sqrt(2 pi)
    return d


@triton.jit
def _reset(h, o, theta, v_reset, RESET: tl.constexpr):
    """``u_t`` after the spikes ``o`` of ``h_t``: hard (to ``v_reset``), soft (minus ``theta``) or none."""
    if RESET == 0:
        u = h - o * h + v_reset * o
    elif RESET == 1:
        u = h - theta * o
    else:
        u = h
    return u


@triton.jit
def _lif_fwd(
    x_ptr, o_ptr, h_ptr, N, T, lam, theta, v_reset, u0,
    RESET: tl.constexpr, REFRACTORY: tl.constexpr, STORE_H: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """Spikes ``o [T, N]`` (and ``h`` if ``STORE_H``) of the neurons ``pid*BLOCK ..`` of ``x [T, N]``."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    x_ptrs = x_ptr + offs
    o_ptrs = o_ptr + offs
    h_ptrs = h_ptr + offs
    u = tl.zeros([BLOCK], dtype=tl.float32) + u0
    blocked = tl.zeros([BLOCK], dtype=tl.int32)  # refractory steps left
    for _t in range(T):
        x = tl.load(x_ptrs, mask=mask, other=0.0).to(tl.float32)
        h = lam * u + x
        if REFRACTORY > 0:
            h = tl.where(blocked > 0, u, h)
            o = ((h >= theta) & (blocked == 0)).to(tl.float32)
            blocked = tl.where(o > 0.0, REFRACTORY, tl.maximum(blocked - 1, 0))
        else:
            o = (h >= theta).to(tl.float32)
        tl.store(o_ptrs, o.to(o_ptr.dtype.element_ty), mask=mask)
        if STORE_H:
            tl.store(h_ptrs, h.to(h_ptr.dtype.element_ty), mask=mask)
        u = _reset(h, o, theta, v_reset, RESET)
        x_ptrs += N
        o_ptrs += N
        h_ptrs += N


@triton.jit
def _lif_bwd(
    x_ptr, o_ptr, go_ptr, gx_ptr, N, T, lam, theta, v_reset, u0, b_const, sg_p,
    RESET: tl.constexpr, REFRACTORY: tl.constexpr, B_FROM_H: tl.constexpr, BPSA: tl.constexpr,
    SG: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """``dL/dx [T, N]`` from ``x``, the forward's spikes ``o`` and ``dL/do`` (backward of the kernel module).

    ``b_const``: the reset/residual factor ``b_t`` (``v_reset + alpha - h_t`` when ``B_FROM_H``, a
    differentiated hard reset; else the constant ``alpha - theta`` or ``alpha``).
    """
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    x_ptrs = x_ptr + offs
    o_ptrs = o_ptr + offs
    g_ptrs = gx_ptr + offs
    go_ptrs = go_ptr + offs
    # 1) recompute h_t into dL/dx (the reset uses the saved spikes: the forward's exact trajectory)
    u = tl.zeros([BLOCK], dtype=tl.float32) + u0
    blocked = tl.zeros([BLOCK], dtype=tl.int32)
    for _t in range(T):
        x = tl.load(x_ptrs, mask=mask, other=0.0).to(tl.float32)
        o = tl.load(o_ptrs, mask=mask, other=0.0).to(tl.float32)
        h = lam * u + x
        if REFRACTORY > 0:
            h = tl.where(blocked > 0, u, h)
            blocked = tl.where(o > 0.0, REFRACTORY, tl.maximum(blocked - 1, 0))
        tl.store(g_ptrs, h.to(gx_ptr.dtype.element_ty), mask=mask)
        u = _reset(h, o, theta, v_reset, RESET)
        x_ptrs += N
        o_ptrs += N
        g_ptrs += N
        go_ptrs += N
    # 2) reverse loop: dL/dh_t from dL/do_t and dL/dh_{t+1}; overwrite h_t with dL/dx_t
    g_next = tl.zeros([BLOCK], dtype=tl.float32)  # dL/dh_{t+1}
    r_next = tl.zeros([BLOCK], dtype=tl.float32)  # refractory mask of step t+1
    for i in range(T):
        t = T - 1 - i
        o_ptrs -= N
        g_ptrs -= N
        go_ptrs -= N
        h = tl.load(g_ptrs, mask=mask, other=0.0).to(tl.float32)
        o = tl.load(o_ptrs, mask=mask, other=0.0).to(tl.float32)
        g_o = tl.load(go_ptrs, mask=mask, other=0.0).to(tl.float32)
        r = tl.zeros([BLOCK], dtype=tl.float32)
        if REFRACTORY > 0:
            for j in tl.static_range(1, REFRACTORY + 1):
                r = tl.maximum(r, tl.load(o_ptrs - j * N, mask=mask & (t >= j), other=0.0).to(tl.float32))
        if BPSA:
            d = o / tl.maximum(h, theta)  # 1/h where fired (h >= theta > 0), else 0
        else:
            d = _surrogate(h - theta, sg_p, SG)
            if REFRACTORY > 0:
                d = d * (1.0 - r)
        if REFRACTORY > 0:
            kg = g_next * (lam + (1.0 - lam) * r_next)  # dL/du_t
        else:
            kg = lam * g_next
        if B_FROM_H:
            g_tot = g_o + kg * (b_const - h)
        else:
            g_tot = g_o + kg * b_const
        if RESET == 0:
            g_h = g_tot * d + kg * (1.0 - o)
        else:
            g_h = g_tot * d + kg
        if REFRACTORY > 0:
            tl.store(g_ptrs, (g_h * (1.0 - r)).to(gx_ptr.dtype.element_ty), mask=mask)
        else:
            tl.store(g_ptrs, g_h.to(gx_ptr.dtype.element_ty), mask=mask)
        g_next = g_h
        r_next = r


def interpreted() -> bool:
    """Whether the kernels were built for Triton's interpreter (``TRITON_INTERPRET=1`` at import): CPU tensors."""
    return not isinstance(_lif_fwd, triton.runtime.JITFunction)


def unsupported(x: torch.Tensor, cfg: LIFConfig) -> str | None:
    """Why these kernels cannot run ``cfg`` on ``x``, or ``None`` when they can."""
    if x.device.type != "cuda" and not (x.device.type == "cpu" and interpreted()):
        where = x.device.type
        return f"tensors on {where} (Triton runs on CUDA; on the CPU only in its interpreter, TRITON_INTERPRET=1)"
    if x.dtype not in DTYPES:
        return f"dtype {x.dtype} (supported: float32, float16, bfloat16)"
    sg = cfg.surrogate
    if sg.name not in SURROGATE_CODES or type(sg) is not SURROGATES.get(sg.name):
        return f"surrogate {cfg.surrogate.name!r} (supported: {', '.join(SURROGATE_CODES)})"
    if cfg.refractory > 64:
        return f"refractory {cfg.refractory} > 64 steps"
    return None


def _block(n: int) -> int:
    """Neurons per program: 1024 for large layers, fewer so that small ones still fill the SMs."""
    return max(128, min(1024, triton.next_power_of_2(max(1, n // 512))))


def _on(x: torch.Tensor) -> Any:
    """The launch context: ``x``'s CUDA device current (Triton launches on the current device)."""
    return torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()


def _reset_factor(cfg: LIFConfig) -> tuple[bool, float]:
    """``(B_FROM_H, b_const)`` of :func:`_lif_bwd`: ``b_t = du_t/do_t`` incl. BPTA's alpha."""
    alpha = cfg.residual
    if cfg.reset == "hard" and not cfg.detach_reset:
        return True, cfg.v_reset + alpha
    if cfg.reset == "soft" and not cfg.detach_reset:
        return False, alpha - cfg.threshold
    return False, alpha


class LIFTritonFunction(torch.autograd.Function):
    """The LIF time loop on the Triton kernels; ``apply(x, cfg, store_h) -> (spikes, h or empty)``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, cfg: LIFConfig, store_h: bool) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        x = x.contiguous()
        steps, n = x.shape[0], (x[0].numel() if x.shape[0] else 0)
        o = torch.empty_like(x)
        h = torch.empty_like(x) if store_h else x.new_empty(0)
        if n:
            block = _block(n)
            with _on(x):
                _lif_fwd[(triton.cdiv(n, block),)](
                    x, o, h if store_h else o, n, steps, cfg.decay, cfg.threshold, cfg.v_reset, cfg.initial,
                    RESET=RESET_CODES[cfg.reset], REFRACTORY=cfg.refractory, STORE_H=store_h, BLOCK=block,
                )  # fmt: skip
        ctx.cfg = cfg
        ctx.save_for_backward(x, o)
        ctx.mark_non_differentiable(h)
        return o, h

    @staticmethod
    def backward(ctx: Any, grad_o: torch.Tensor | None, _grad_h: Any) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        cfg: LIFConfig = ctx.cfg
        x, o = ctx.saved_tensors
        grad_o = torch.zeros_like(o) if grad_o is None else grad_o.contiguous()
        grad_x = torch.empty_like(x)
        steps, n = x.shape[0], (x[0].numel() if x.shape[0] else 0)
        if n:
            block = _block(n)
            b_from_h, b_const = _reset_factor(cfg)
            sg = cfg.surrogate
            sg_p = float(getattr(sg, _SURROGATE_PARAM[sg.name]))
            with _on(x):
                _lif_bwd[(triton.cdiv(n, block),)](
                    x, o, grad_o, grad_x, n, steps, cfg.decay, cfg.threshold, cfg.v_reset, cfg.initial, b_const, sg_p,
                    RESET=RESET_CODES[cfg.reset], REFRACTORY=cfg.refractory, B_FROM_H=b_from_h, BPSA=cfg.bpsa,
                    SG=SURROGATE_CODES[sg.name], BLOCK=block,
                )  # fmt: skip
        return grad_x, None, None


def lif_triton(x: torch.Tensor, cfg: LIFConfig, store_h: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes (and ``h`` when ``store_h``, else an empty tensor) of :class:`LIFTritonFunction`; checks support."""
    reason = unsupported(x, cfg)
    if reason is not None:
        raise ValueError(f"lif_multistep: backend 'triton' does not support {reason}")
    return LIFTritonFunction.apply(x, cfg, store_h)  # type: ignore[no-any-return]
