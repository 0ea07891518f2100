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

**Algorithm (fast path, :func:`first_spike_times`).**  The samples (rows) are ordered by how many
of their inputs spike; rows without any are silent and never sorted or scanned.  Each remaining
row's inputs are sorted once, and the sorted inputs are visited in steps of ``chunk`` inputs, only
over the rows that still have spiking inputs at that position (so no work is spent on the padding
of sparse rows).  A step gathers the weight rows (``[rows, K, out]``), continues the running sums
``W_k = sum_{r<=k} w_r`` and ``S_k = sum_{r<=k} w_r t_r`` of the previous step, and looks for the
first segment ``[t_k, t_{k+1}]`` whose end reaches the threshold, ``V(t_{k+1}) = W_k t_{k+1} - S_k
>= theta`` with ``W_k > 0`` (the potential rises through ``theta`` there; before that segment
``V < theta``).  That ``k`` is the spike, ``t_j = (theta + S_k) / W_k`` (Eq. 12), and its ``k + 1``
inputs are the causal set.  A block of rows stops as soon as all its neurons have fired.  On the
CPU the rows are cut into blocks of about ``TILE / (chunk * out)`` so that a step's tensors stay in
the cache, and the running sums are a product with a triangular matrix (BLAS) instead of
``cumsum``.  The backward (:class:`_FirstSpike`) replays the steps up to each row's largest causal
set and applies Eq. 14-15 with the causal mask ``rank < |C_j|`` -- no dense ``[B, in, out]``
tensor is ever built.  :func:`first_spike_times_reference` is the obvious full-tensor version
(kept as the reference the tests compare against; it uses the same crossing test).  Costs and
measurements: docs/performance-stdbp.md.

Layers: :class:`RelPspDense` (``[B, in] -> [B, out]``), :class:`RelPspConv2d` (im2col, then the
same kernel per output position; padding is "no spike"), :class:`MinPool2d` (earliest spike wins,
``min`` of the times = max pooling of ``-t``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_CHUNK = 32
TILE = 1 << 19  # CPU: elements of one scan step [rows, chunk, out] (L2-sized for 2 threads; see _steps)
MAX_CHUNK = 255  # first-crossing search in uint8 (one byte per segment of a scan step)


def _check(t_in: torch.Tensor, weight: torch.Tensor, where: str) -> None:
    if t_in.dim() != 2 or weight.dim() != 2 or t_in.shape[1] != weight.shape[0]:
        raise ValueError(
            f"{where}: expected times [B, in] and weight [in, out], got {tuple(t_in.shape)} and {tuple(weight.shape)}"
        )


class _Sorted(NamedTuple):
    """One layer call's inputs in scan order: rows (samples) by spike count, each row's inputs by time."""

    rows: torch.Tensor  # [B] sample of each scan row (most spiking inputs first)
    times: torch.Tensor  # [live, n + 1] sorted input times, weight dtype, clamped to t_max; last column t_max
    order: torch.Tensor  # [live, n] input index of each sorted position
    rows_idx: torch.Tensor  # [live, n] weight row of each sorted position: ``order``, or ``in`` (zero row) if silent
    n_spiking: torch.Tensor  # [B] spiking inputs of each scan row (non-increasing)
    n: int  # most spiking inputs of a row
    live: int  # rows with at least one spiking input (the others are silent and never sorted or scanned)


def _sort_inputs(t_in: torch.Tensor, t_max: float, dtype: torch.dtype) -> _Sorted:
    """Sort each sample's input times (no spike = ``t_max``) and the samples by how many inputs spike."""
    bsz, n_in = t_in.shape
    clamped = t_in.clamp(max=t_max)
    n_spk, rows = torch.sort((clamped < t_max).sum(1), descending=True, stable=True)
    n = int(n_spk[0]) if bsz else 0
    live = int((n_spk > 0).sum())
    ts, order = torch.sort(clamped.index_select(0, rows[:live]), dim=1, stable=True)
    ts, order = ts[:, :n], order[:, :n]
    times = torch.cat((ts.to(dtype), torch.full((live, 1), t_max, dtype=dtype, device=t_in.device)), 1)
    rows_idx = torch.where(ts < t_max, order, torch.full_like(order, n_in))
    return _Sorted(rows, times, order, rows_idx, n_spk, n, live)


def _steps(counts: torch.Tensor, n: int, chunk: int, n_out: int) -> list[list[tuple[int, int, int, int]]]:
    """Scan steps ``(start, stop, row0, row1)`` grouped in blocks of rows, one list per block.

    ``counts`` ``[B]`` (non-increasing) is how many sorted inputs each row needs.  A step covers sorted
    positions ``[start, stop)`` of rows ``[row0, row1)``: the rows of its block whose count exceeds
    ``start``.  On the CPU a block has about ``TILE / (chunk * out)`` rows so that one step's
    ``[rows, chunk, out]`` tensors stay in the cache; on a GPU one block holds every row.
    """
    bsz = counts.shape[0]
    per_block = bsz if counts.device.type != "cpu" else max(1, TILE // (chunk * n_out))
    starts = torch.arange(0, n, chunk, device=counts.device)
    ends = torch.searchsorted(-counts, -starts, side="left").tolist()  # rows [0, end) have count > start
    blocks = []
    for row0 in range(0, bsz, per_block):
        block_end = min(row0 + per_block, bsz)
        steps = []
        for start, end in zip(range(0, n, chunk), ends, strict=True):
            row1 = min(block_end, end)
            if row1 <= row0:
                break
            steps.append((start, min(start + chunk, n), row0, row1))
        if steps:
            blocks.append(steps)
    return blocks


def _running_sums(x: torch.Tensor, tri: torch.Tensor | None) -> torch.Tensor:
    """Cumulative sum of ``[..., k, out]`` over ``k``.

    On the CPU ``cumsum`` along a middle dimension is a strided scalar loop (several ns per element
    for ``out`` in the hundreds); the product with the ``[k, k]`` lower-triangular ones matrix
    ``tri`` is a batched BLAS call and several times faster there.  ``tri`` is ``None`` for narrow
    layers (``out`` < 32) and on GPUs, which keep ``cumsum``.
    """
    if tri is None:
        return x.cumsum_(-2)
    return torch.matmul(tri, x)


_StepConstants = dict[int, tuple[torch.Tensor | None, torch.Tensor]]


def _step_constants(
    k: int, n_out: int, dtype: torch.dtype, device: torch.device, cache: _StepConstants
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Per step length ``k``: the triangular matrix of :func:`_running_sums` (or ``None``) and ``k, k-1, .., 1``."""
    if k not in cache:
        use_mm = device.type == "cpu" and n_out >= 32 and k > 1
        tri = torch.ones(k, k, dtype=dtype, device=device).tril_() if use_mm else None
        cache[k] = (tri, torch.arange(k, 0, -1, dtype=torch.uint8, device=device).view(1, k, 1))
    return cache[k]


def _padded(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` with one zero row appended (the row that silent inputs point to)."""
    return torch.cat((weight, weight.new_zeros(1, weight.shape[1])), 0)


def _first_crossing(
    reach: torch.Tensor, cw: torch.Tensor, rev: torch.Tensor, alive: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """First segment ``k`` of a step with ``reach`` (``V(t_{k+1}) >= theta``) and ``W_k > 0``, per neuron.

    ``reach``/``cw`` ``[r, k, out]``, ``rev`` ``k .. 1`` ``[1, k, 1]`` uint8, ``alive`` ``[r, out]``
    uint8 (0 = fired before).  Returns ``hit`` ``[r, out]`` (``None`` when no neuron crosses), the
    segment ``first`` ``[r, 1, out]`` and ``W`` there.  In exact arithmetic the first segment whose
    end reaches ``theta`` has ``W_k > 0`` (``V`` rose to ``theta`` on it), so ``W_k > 0`` is checked
    only at that segment; only where rounding breaks this is it applied to every segment.
    """
    k = reach.shape[1]
    last = (reach.view(torch.uint8) * rev).amax(1).mul_(alive)  # k - first segment; 0 = none or fired before
    hit = last > 0
    if not bool(hit.any()):
        return None, last, last
    first = (k - last.long()).clamp_(max=k - 1).unsqueeze(1)
    wc = cw.gather(1, first).squeeze(1)
    if bool((hit & (wc <= 0)).any()):
        last = (reach.logical_and(cw > 0).view(torch.uint8) * rev).amax(1).mul_(alive)
        hit = last > 0
        first = (k - last.long()).clamp_(max=k - 1).unsqueeze(1)
        wc = cw.gather(1, first).squeeze(1)
    return hit, first, wc


def _scan(
    src: _Sorted, weight: torch.Tensor, theta: float, t_max: float, chunk: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Spike times, causal-set sizes (0 = silent) and causal weight sums ``[B, out]``, in scan-row order."""
    bsz, n_out = src.rows.shape[0], weight.shape[1]
    dev, dt = weight.device, weight.dtype
    t_out = torch.full((bsz, n_out), t_max, dtype=dt, device=dev)
    n_causal = torch.zeros((bsz, n_out), dtype=torch.long, device=dev)
    w_sum = torch.zeros((bsz, n_out), dtype=dt, device=dev)
    alive = torch.ones((bsz, n_out), dtype=torch.uint8, device=dev)  # 1 until the neuron fires
    carry = torch.zeros((2, bsz, n_out), dtype=dt, device=dev)  # W and S over the inputs scanned so far
    w_pad = _padded(weight)
    cache: _StepConstants = {}
    for block in _steps(src.n_spiking, src.n, chunk, n_out):
        for start, stop, row0, row1 in block:
            rs, r, k = slice(row0, row1), row1 - row0, stop - start
            tri, rev = _step_constants(k, n_out, dt, dev, cache)
            tk = src.times[rs, start:stop].unsqueeze(-1)  # [r, k, 1]
            nxt = src.times[rs, start + 1 : stop + 1].unsqueeze(-1)  # end of each segment (t_max after the last)
            sums = torch.empty((2, r, k, n_out), dtype=dt, device=dev)  # gathered w_k and w_k t_k, then W_k, S_k
            torch.index_select(w_pad, 0, src.rows_idx[rs, start:stop].reshape(-1), out=sums[0].view(r * k, n_out))
            torch.mul(sums[0], tk, out=sums[1])
            sums[:, :, 0] += carry[:, rs]  # continue the running sums of the previous step
            sums = _running_sums(sums, tri)
            cw, cs = sums[0], sums[1]
            reach = torch.addcmul(cs, cw, nxt, value=-1.0).le(-theta)  # V(t_{k+1}) = W_k t_{k+1} - S_k >= theta
            hit, first, wc = _first_crossing(reach, cw, rev, alive[rs])
            if hit is not None:
                sc = cs.gather(1, first).squeeze(1)
                t_out[rs] = torch.where(hit, (theta + sc) / torch.where(hit, wc, torch.ones_like(wc)), t_out[rs])
                w_sum[rs] = torch.where(hit, wc, w_sum[rs])
                n_causal[rs] = torch.where(hit, first.squeeze(1) + start + 1, n_causal[rs])
                alive[rs].masked_fill_(hit, 0)
                if not bool(alive[rs].any()):  # rows past row1 have no inputs left: the block is done
                    break
            carry[:, rs] = sums[:, :, -1]
    return t_out, n_causal, w_sum


def _grads(
    grad_out: torch.Tensor,
    src: _Sorted,
    weight: torch.Tensor,
    t_out: torch.Tensor,
    n_causal: torch.Tensor,
    w_sum: torch.Tensor,
    chunk: int,
    need_t: bool,
    need_w: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Eq. 14-15 summed over the causal sets, chunk by chunk over the sorted inputs (scan-row order in and out)."""
    n_out = t_out.shape[1]
    dev, dt = weight.device, weight.dtype
    fired = n_causal > 0
    a = torch.where(fired, grad_out / torch.where(fired, w_sum, torch.ones_like(w_sum)), torch.zeros_like(grad_out))
    # rows by largest causal set, so that each step only visits the rows that still have causal inputs
    live = src.live  # rows past ``live`` have no spiking input, hence no causal input
    n_row, perm = torch.sort(n_causal[:live].amax(1), descending=True, stable=True)
    a, t_o, nc = a[perm].unsqueeze(1), t_out[perm].unsqueeze(1), n_causal[perm].to(dt).unsqueeze(1)
    times, rows_idx = src.times[perm], src.rows_idx[perm]
    n_max = int(n_row[0]) if live else 0
    g_sorted = torch.zeros((live, src.n), dtype=dt, device=dev) if need_t else None
    g_w = torch.zeros((weight.shape[0] + 1, n_out), dtype=dt, device=dev) if need_w else None
    w_pad = _padded(weight) if need_t else None
    for block in _steps(n_row, n_max, chunk, n_out):
        for start, stop, row0, row1 in block:
            rs, r, k = slice(row0, row1), row1 - row0, stop - start
            idx = rows_idx[rs, start:stop].reshape(-1)
            rank = torch.arange(start, stop, dtype=dt, device=dev).view(1, k, 1)
            am = (nc[rs] - rank).clamp_(0.0, 1.0).mul_(a[rs])  # [r, k, out]: g_j / W_j on causal pairs, else 0
            if g_sorted is not None and w_pad is not None:
                g_sorted[rs, start:stop] = w_pad.index_select(0, idx).view(r, k, n_out).mul_(am).sum(-1)
            if g_w is not None:
                contrib = torch.sub(times[rs, start:stop].unsqueeze(-1), t_o[rs]).mul_(am)
                g_w.index_add_(0, idx, contrib.view(-1, n_out))
    g_t = None
    if g_sorted is not None:
        g_t = torch.zeros((live, src.n), dtype=dt, device=dev)
        g_t[perm] = g_sorted
    return g_t, (g_w[:-1] if g_w is not None else None)


class _FirstSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t_in, weight, theta, t_max, chunk):  # type: ignore[override]
        src = _sort_inputs(t_in.detach(), t_max, weight.dtype)
        t_out, n_causal, w_sum = _scan(src, weight.detach(), theta, t_max, chunk)
        ctx.save_for_backward(
            src.rows, src.times, src.order, src.rows_idx, src.n_spiking, weight, t_out, n_causal, w_sum
        )
        ctx.n, ctx.live, ctx.chunk, ctx.in_shape, ctx.in_dtype = src.n, src.live, chunk, t_in.shape, t_in.dtype
        return torch.empty_like(t_out).index_copy_(0, src.rows, t_out)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        rows, times, order, rows_idx, n_spiking, weight, t_out, n_causal, w_sum = ctx.saved_tensors
        src = _Sorted(rows, times, order, rows_idx, n_spiking, ctx.n, ctx.live)
        g_sorted, g_w = _grads(
            grad_out[rows], src, weight, t_out, n_causal, w_sum, ctx.chunk, ctx.needs_input_grad[0],
            ctx.needs_input_grad[1],
        )
        g_t = None
        if g_sorted is not None:
            g_rows = torch.zeros(ctx.in_shape, dtype=g_sorted.dtype, device=g_sorted.device)
            g_rows[: ctx.live].scatter_(1, order, g_sorted)
            g_t = torch.empty_like(g_rows).index_copy_(0, rows, g_rows).to(ctx.in_dtype)
        return g_t, g_w, None, None, None


def first_spike_times(
    t_in: torch.Tensor, weight: torch.Tensor, theta: float = 1.0, t_max: float = 4.0, chunk: int = DEFAULT_CHUNK
) -> torch.Tensor:
    """Exact first-spike times ``[B, out]`` of ReL-PSP neurons (Eq. 12) with STDBP gradients (Eq. 14-15).

    ``t_in`` ``[B, in]`` input spike times (``>= t_max`` or ``inf`` = no spike), ``weight`` ``[in, out]``.
    Silent neurons get ``t_max`` (zero gradient).  Fast chunked scan of ``chunk`` inputs per step
    (at most ``MAX_CHUNK``; larger values are capped); see the module docstring.
    """
    _check(t_in, weight, "first_spike_times")
    if chunk < 1:
        raise ValueError(f"first_spike_times: chunk must be >= 1, got {chunk}")
    return _FirstSpike.apply(t_in, weight, float(theta), float(t_max), min(int(chunk), MAX_CHUNK))


def first_spike_times_reference(
    t_in: torch.Tensor, weight: torch.Tensor, theta: float = 1.0, t_max: float = 4.0
) -> torch.Tensor:
    """The obvious version of :func:`first_spike_times`, differentiable by autograd.

    Sort the inputs, gather the weight rows for all inputs (``[B, in, out]``), cumulative sums,
    the potential ``V(t_{k+1}) = W_k t_{k+1} - S_k`` at the end of every segment, the first segment
    with ``W_k > 0`` where it reaches ``theta``; then Eq. 12 over the causal set is
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
    v_next = cw * nxt.unsqueeze(-1) - cs  # V(t_{k+1}): the potential at the end of segment k
    ok = (cw > 0) & (v_next >= theta) & active.unsqueeze(-1)
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
    """What dense and conv ReL-PSP layers share: parameters, weight ``[fan_in, out]``, and the kernel choice.

    Options (keywords of every ReL-PSP layer): ``theta`` threshold, ``t_max`` end of the simulation
    window (silent neurons output ``t_max``), ``init``/``gain``/``mean`` the weight initialisation
    (:func:`_init_weight`), ``chunk`` inputs per scan step, ``reference=True`` uses
    :func:`first_spike_times_reference` (slow; for tests and checks).
    """

    def __init__(
        self,
        fan_in: int,
        n_out: int,
        *,
        theta: float = 1.0,
        t_max: float = 4.0,
        init: str = "normal",
        gain: float = 1.0,
        mean: float = 0.0,
        chunk: int = DEFAULT_CHUNK,
        reference: bool = False,
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

    ``weight`` is stored ``[in, out]`` (the row of input ``i`` is gathered when ``i`` spikes); options
    as :class:`_RelPspLayer`.
    """

    def __init__(self, n_in: int, n_out: int, **options: Any) -> None:
        super().__init__(n_in, n_out, **options)
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
        **options: Any,
    ) -> None:
        super().__init__(c_in * kernel[0] * kernel[1], c_out, **options)
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
