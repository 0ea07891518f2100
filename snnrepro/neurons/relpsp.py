"""Non-leaky spiking neurons with the rectified-linear PSP (ReL-PSP) and exact first-spike times (STDBP).

Membrane potential of neuron ``j`` (paper Eq. 8-9)::

    V_j(t) = sum_i w_ij K(t - t_i),     K(s) = s for s > 0, else 0

It is piecewise linear with kinks at the input times.  The neuron fires once, at the first
``t`` with ``V_j(t) = theta`` (Eq. 3, 11); with the *causal set* ``C_j = {i : t_i < t_j}``
(the inputs that arrived before the output spike) this is the closed form (Eq. 12)::

    t_j = (theta + sum_{i in C_j} w_ij t_i) / sum_{i in C_j} w_ij

and the exact gradients (Eq. 14-15, zero for ``i`` outside ``C_j``)::

    d t_j / d w_ij = (t_i - t_j) / sum_{C_j} w_ij        d t_j / d t_i = w_ij / sum_{C_j} w_ij

**Simulation window and silent neurons.**  A layer simulates ``[0, t_max]``.  A neuron whose
potential does not reach ``theta`` by ``t_max`` (including one whose causal weight sum never gets
positive) is *silent*: its output time is ``t_max`` and its gradient is zero.  An input time
``>= t_max`` (and ``+inf``, the encoders' "no spike") is no spike: it cannot cause a crossing
inside the window.  So a silent neuron's ``t_max`` in the next layer is exactly "no spike", and
the whole network is the same as a time-stepped simulation of ``[0, t_max]``.

**Algorithm (fast path, :func:`first_spike_times`).**  Per sample the inputs are sorted once;
inputs that never spike are dropped (the scan only runs to the largest number of spiking inputs
in the batch).  The sorted inputs are visited in chunks of ``chunk`` inputs: the chunk's weight
rows are gathered (``[B, K, out]``), running sums ``W_k = sum_{r<=k} w_r`` and ``S_k = sum_{r<=k}
w_r t_r`` continue the previous chunk's, and the candidate ``c_k = (theta + S_k) / W_k`` is the
crossing time in segment ``[t_k, t_{k+1}]`` iff ``W_k > 0`` and ``c_k <= t_{k+1}`` (before that
segment ``V < theta``, so ``c_k > t_k`` holds by itself).  The first such ``k`` is the spike; its
``k + 1`` inputs are the causal set.  The scan stops as soon as every output neuron of the batch
has fired.  The backward (:class:`_FirstSpike`) replays the chunks up to the largest causal set
and applies Eq. 14-15 with the causal mask ``rank < |C_j|`` -- no dense ``[B, in, out]`` tensor
is ever built.  :func:`first_spike_times_reference` is the obvious full-tensor version (kept as
the reference the tests compare against).  Operation counts: docs/performance-stdbp.md.

Layers: :class:`RelPspDense` (``[B, in] -> [B, out]``), :class:`RelPspConv2d` (im2col, then the
same kernel per output position; padding is "no spike"), :class:`MinPool2d` (earliest spike wins,
``min`` of the times = max pooling of ``-t``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_CHUNK = 32


def _check(t_in: torch.Tensor, weight: torch.Tensor, where: str) -> None:
    if t_in.dim() != 2 or weight.dim() != 2 or t_in.shape[1] != weight.shape[0]:
        raise ValueError(
            f"{where}: expected times [B, in] and weight [in, out], got {tuple(t_in.shape)} and {tuple(weight.shape)}"
        )


def _sorted_inputs(t_in: torch.Tensor, t_max: float) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Sorted input times (clamped to ``t_max`` = no spike), their order, and the most spiking inputs of a sample."""
    ts, order = torch.sort(t_in.clamp(max=t_max), dim=1, stable=True)
    n_active = int((ts < t_max).sum(1).max()) if ts.numel() else 0
    return ts, order, n_active


def _scan(
    ts: torch.Tensor, order: torch.Tensor, n_active: int, weight: torch.Tensor, theta: float, t_max: float, chunk: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Spike times ``[B, out]``, causal-set sizes ``[B, out]`` (0 = silent) and causal weight sums ``[B, out]``."""
    bsz, n_out = ts.shape[0], weight.shape[1]
    t_out = torch.full((bsz, n_out), t_max, dtype=weight.dtype, device=weight.device)
    n_causal = torch.zeros((bsz, n_out), dtype=torch.long, device=weight.device)
    w_sum = torch.zeros((bsz, n_out), dtype=weight.dtype, device=weight.device)
    fired = torch.zeros((bsz, n_out), dtype=torch.bool, device=weight.device)
    carry_w = torch.zeros((bsz, 1, n_out), dtype=weight.dtype, device=weight.device)
    carry_s = torch.zeros_like(carry_w)
    tsw = ts.to(weight.dtype)
    for start in range(0, n_active, chunk):
        stop = min(start + chunk, n_active)
        tk = tsw[:, start:stop]  # [B, K]
        nxt = tsw[:, start + 1 : stop + 1]
        if nxt.shape[1] < stop - start:  # the segment after the last input of the scan ends at t_max
            nxt = torch.cat((nxt, tsw.new_full((bsz, 1), t_max)), 1)
        active = tk < t_max
        wg = weight[order[:, start:stop]] * active.unsqueeze(-1)  # [B, K, out]
        cw = carry_w + wg.cumsum(1)
        cs = carry_s + (wg * tk.unsqueeze(-1)).cumsum(1)
        cand = (theta + cs) / cw
        ok = (cw > 0) & (cand <= nxt.unsqueeze(-1)) & active.unsqueeze(-1)
        hit = ok.any(1) & ~fired
        if bool(hit.any()):
            first = ok.to(torch.uint8).argmax(1, keepdim=True)  # [B, 1, out] first crossing segment in the chunk
            t_out = torch.where(hit, cand.gather(1, first).squeeze(1), t_out)
            w_sum = torch.where(hit, cw.gather(1, first).squeeze(1), w_sum)
            n_causal = torch.where(hit, first.squeeze(1) + start + 1, n_causal)
            fired = fired | hit
            if bool(fired.all()):
                break
        carry_w, carry_s = cw[:, -1:], cs[:, -1:]
    return t_out, n_causal, w_sum


def _grads(
    grad_out: torch.Tensor,
    ts: torch.Tensor,
    order: torch.Tensor,
    weight: torch.Tensor,
    t_out: torch.Tensor,
    n_causal: torch.Tensor,
    w_sum: torch.Tensor,
    chunk: int,
    need_t: bool,
    need_w: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Eq. 14-15 summed over the causal sets, chunk by chunk over the sorted inputs."""
    bsz, n_in = ts.shape
    fired = n_causal > 0
    a = torch.where(fired, grad_out / torch.where(fired, w_sum, torch.ones_like(w_sum)), torch.zeros_like(grad_out))
    a = a.unsqueeze(1)  # [B, 1, out]
    t_o = t_out.unsqueeze(1)
    n_max = int(n_causal.max()) if n_causal.numel() else 0
    g_sorted = torch.zeros((bsz, n_in), dtype=weight.dtype, device=weight.device) if need_t else None
    g_w = torch.zeros_like(weight) if need_w else None
    nc = n_causal.unsqueeze(1)
    for start in range(0, n_max, chunk):
        stop = min(start + chunk, n_max)
        idx = order[:, start:stop]
        rank = torch.arange(start, stop, device=weight.device).view(1, -1, 1)
        am = a * (rank < nc)  # [B, K, out]: g_j / W_j on causal pairs, 0 elsewhere
        if g_sorted is not None:
            g_sorted[:, start:stop] = (am * weight[idx]).sum(-1)
        if g_w is not None:
            contrib = am * (ts[:, start:stop].to(weight.dtype).unsqueeze(-1) - t_o)
            g_w.index_add_(0, idx.reshape(-1), contrib.reshape(-1, weight.shape[1]))
    g_t = None
    if g_sorted is not None:
        g_t = torch.zeros_like(g_sorted).scatter_(1, order, g_sorted)
    return g_t, g_w


class _FirstSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t_in, weight, theta, t_max, chunk):  # type: ignore[override]
        ts, order, n_active = _sorted_inputs(t_in.detach(), t_max)
        t_out, n_causal, w_sum = _scan(ts, order, n_active, weight.detach(), theta, t_max, chunk)
        ctx.save_for_backward(ts, order, weight, t_out, n_causal, w_sum)
        ctx.chunk = chunk
        ctx.in_dtype = t_in.dtype
        return t_out

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        ts, order, weight, t_out, n_causal, w_sum = ctx.saved_tensors
        g_t, g_w = _grads(
            grad_out, ts, order, weight, t_out, n_causal, w_sum, ctx.chunk, ctx.needs_input_grad[0],
            ctx.needs_input_grad[1],
        )
        if g_t is not None:
            g_t = g_t.to(ctx.in_dtype)
        return g_t, g_w, None, None, None


def first_spike_times(
    t_in: torch.Tensor, weight: torch.Tensor, theta: float = 1.0, t_max: float = 4.0, chunk: int = DEFAULT_CHUNK
) -> torch.Tensor:
    """Exact first-spike times ``[B, out]`` of ReL-PSP neurons (Eq. 12) with STDBP gradients (Eq. 14-15).

    ``t_in`` ``[B, in]`` input spike times (``>= t_max`` or ``inf`` = no spike), ``weight`` ``[in, out]``.
    Silent neurons get ``t_max`` (zero gradient).  Fast chunked scan; see the module docstring.
    """
    _check(t_in, weight, "first_spike_times")
    if chunk < 1:
        raise ValueError(f"first_spike_times: chunk must be >= 1, got {chunk}")
    return _FirstSpike.apply(t_in, weight, float(theta), float(t_max), int(chunk))


def first_spike_times_reference(
    t_in: torch.Tensor, weight: torch.Tensor, theta: float = 1.0, t_max: float = 4.0
) -> torch.Tensor:
    """The obvious version of :func:`first_spike_times`, differentiable by autograd.

    Sort the inputs, gather the weight rows for all inputs (``[B, in, out]``), cumulative sums,
    the candidate time of every segment, the first valid one; then Eq. 12 over the causal set is
    re-evaluated with the causal mask as a constant, so autograd yields Eq. 14-15.
    """
    _check(t_in, weight, "first_spike_times_reference")
    ts, order = torch.sort(t_in.detach().clamp(max=t_max), dim=1, stable=True)
    tsw = ts.to(weight.dtype)
    active = tsw < t_max
    wg = weight.detach()[order] * active.unsqueeze(-1)
    cw = wg.cumsum(1)
    cs = (wg * tsw.unsqueeze(-1)).cumsum(1)
    nxt = torch.cat((tsw[:, 1:], tsw.new_full((ts.shape[0], 1), t_max)), 1).clamp(max=t_max)
    cand = (theta + cs) / cw
    ok = (cw > 0) & (cand <= nxt.unsqueeze(-1)) & active.unsqueeze(-1)
    fired = ok.any(1)  # [B, out]
    n_causal = torch.where(fired, ok.to(torch.uint8).argmax(1) + 1, torch.zeros_like(fired, dtype=torch.long))
    positions = torch.arange(order.shape[1], device=order.device).expand_as(order)
    rank = torch.empty_like(order).scatter_(1, order, positions)
    mask = (rank.unsqueeze(-1) < n_causal.unsqueeze(1)).to(weight.dtype)  # [B, in, out] causal set, a constant
    t_inf = torch.where(t_in < t_max, t_in, torch.zeros_like(t_in)).to(weight.dtype)  # no-spike times never enter
    w_c = (mask * weight.unsqueeze(0)).sum(1)
    s_c = (mask * weight.unsqueeze(0) * t_inf.unsqueeze(-1)).sum(1)
    safe = torch.where(fired, w_c, torch.ones_like(w_c))
    return torch.where(fired, (theta + s_c) / safe, torch.full_like(w_c, t_max))


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


class _RelPspLayer(nn.Module):
    """What dense and conv ReL-PSP layers share: parameters, weight ``[fan_in, out]``, and the kernel choice."""

    def __init__(
        self, fan_in: int, n_out: int, theta: float, t_max: float, init: str, gain: float, mean: float,
        chunk: int, reference: bool,
    ) -> None:
        super().__init__()
        if theta <= 0 or t_max <= 0:
            raise ValueError(f"{type(self).__name__}: theta and t_max must be positive, got {theta}, {t_max}")
        self.theta, self.t_max, self.chunk, self.reference = theta, t_max, chunk, reference
        self.weight = nn.Parameter(torch.empty(fan_in, n_out))
        _init_weight(self.weight, fan_in, init, gain, mean)

    def _times(self, t_in: torch.Tensor) -> torch.Tensor:
        """First-spike times of ``[N, fan_in]`` input times: the fast kernel, or the reference one."""
        if self.reference:
            return first_spike_times_reference(t_in, self.weight, self.theta, self.t_max)
        return first_spike_times(t_in, self.weight, self.theta, self.t_max, self.chunk)


class RelPspDense(_RelPspLayer):
    """Fully connected ReL-PSP layer: ``[B, in]`` input spike times -> ``[B, out]`` first-spike times (Eq. 12).

    ``weight`` is stored ``[in, out]`` (the row of input ``i`` is gathered when ``i`` spikes).
    ``theta`` threshold, ``t_max`` end of the simulation window (silent neurons output ``t_max``),
    ``reference=True`` uses :func:`first_spike_times_reference` (slow; for tests and checks).
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        theta: float = 1.0,
        t_max: float = 4.0,
        init: str = "normal",
        gain: float = 1.0,
        mean: float = 0.0,
        chunk: int = DEFAULT_CHUNK,
        reference: bool = False,
    ) -> None:
        super().__init__(n_in, n_out, theta, t_max, init, gain, mean, chunk, reference)
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
        theta: float = 1.0,
        t_max: float = 4.0,
        init: str = "normal",
        gain: float = 1.0,
        mean: float = 0.0,
        chunk: int = DEFAULT_CHUNK,
        reference: bool = False,
    ) -> None:
        super().__init__(c_in * kernel[0] * kernel[1], c_out, theta, t_max, init, gain, mean, chunk, reference)
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
