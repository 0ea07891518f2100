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
row's inputs are sorted once (:func:`snnrepro.neurons.stable_sort.stable_sort`), and the sorted inputs
are visited in steps of ``chunk`` inputs, only over the rows that still have spiking inputs at that
position.  A step gathers the weight rows ``g_s`` and forms the potential at the end of every segment,
``V(t_{q+1}) = V(t_0) + sum_{s<=q} g_s (t_{q+1} - t_s)`` (with the weight sum ``W`` of the earlier
inputs folded into ``g_0``): for wide layers one batched product with the ``[k, k]`` matrix
``relu(t_{q+1} - t_s)``, for narrow ones ``W_q t_{q+1} - S_q`` from running sums.  The first segment
whose end reaches ``theta`` with ``W_q > 0`` (the potential rises through ``theta`` there; before it
``V < theta``) holds the spike, ``t_j = t_{q+1} - (V(t_{q+1}) - theta) / W_q`` = Eq. 12, and its ``q + 1``
inputs are the causal set; only rows whose largest ``V`` of the step reaches ``theta`` are searched.
A block of rows stops as soon as all its neurons have fired.  On the CPU rows are cut into blocks of
about ``TILE`` elements per step.  The backward (:class:`_FirstSpike`) applies Eq. 14-15 with the
causal mask ``rank < |C_j|`` -- either scanning the causal sets, or (usually cheaper: neurons fire
after most of their inputs) as matrix products over all spiking inputs less a scan of the non-causal
ones (:func:`_grads`).  No dense ``[B, in, out]`` tensor is ever built.
:func:`first_spike_times_reference` is the obvious full-tensor version (kept as the reference the tests
compare against; it uses the same crossing test).  Costs and measurements: docs/performance-stdbp.md.

The layers that call this kernel are in :mod:`snnrepro.neurons.relpsp.layers`; on CPUs they call by default
the same kernel compiled with numba (:mod:`snnrepro.neurons.relpsp.kernel_numba`, tested against this one and
the reference), this one on GPUs or when asked (``kernel="torch"``, ``SNNREPRO_RELPSP_KERNEL=torch``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from snnrepro.neurons.stable_sort import stable_sort

DEFAULT_CHUNK = 32
TILE = 1 << 21  # CPU: elements of one scan step [rows, chunk, out] (8 MB of float32; measured, see docs)
MAX_CHUNK = 255  # first-crossing search in uint8 (one byte per segment of a scan step)
NARROW = 32  # layers with fewer outputs form potentials by running sums, not a k x k product (see _Scan)
ROWS_LAST_CHUNK = 64  # narrow layers with steps up to this long lay them out [out, k, rows] (see _Scan)
DENSE_COST = 40  # backward: one (row, input) of a matrix product costs ~1/40 of a scanned one (see _grads)
BACKWARD_MODE: str | None = None  # 'causal', 'complement' or None (the cheaper per call; tests pin each)


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
    n_spk, rows = stable_sort((clamped < t_max).sum(1), descending=True)
    n = int(n_spk[0]) if bsz else 0
    live = int((n_spk > 0).sum())
    ts, order = stable_sort(clamped.index_select(0, rows[:live]))
    ts, order = ts[:, :n], order[:, :n]
    times = torch.cat((ts.to(dtype), torch.full((live, 1), t_max, dtype=dtype, device=t_in.device)), 1)
    rows_idx = torch.where(ts < t_max, order, torch.full_like(order, n_in))
    return _Sorted(rows, times, order, rows_idx, n_spk, n, live)


def _steps(counts: torch.Tensor, n: int, chunk: int, n_out: int) -> list[list[tuple[int, int, int, int]]]:
    """Scan steps ``(start, stop, row0, row1)`` grouped in blocks of rows, one list per block.

    ``counts`` ``[B]`` (non-increasing) is how many sorted inputs each row needs.  A step covers sorted
    positions ``[start, stop)`` of rows ``[row0, row1)``: the rows of its block whose count exceeds
    ``start``.  On the CPU a block has about ``TILE / (chunk * out)`` rows so that one step's
    ``[rows, chunk, out]`` tensors stay near the cache (2^21 elements measured best for the batch-128 MLP on
    the 2-core bench machine: one block of rows per step there); on a GPU one block holds every row.
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


def _padded(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` with one zero row appended (the row that silent inputs point to)."""
    return torch.cat((weight, weight.new_zeros(1, weight.shape[1])), 0)


def _first_crossing(
    reach: torch.Tensor, cw: torch.Tensor, rev: torch.Tensor, alive: torch.Tensor, kdim: int = 1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """First segment ``q`` of a step with ``reach`` (``V(t_{q+1}) >= theta``) and ``W_q > 0``, per neuron.

    ``reach``/``cw``: a step's tensors with the ``k`` segments along ``kdim`` (``[r, k, out]`` by default),
    ``rev`` ``k .. 1`` uint8 shaped to broadcast along ``kdim``, ``alive`` uint8 shaped as the tensors
    without ``kdim`` (0 = fired before).  Returns ``hit``, the segment ``first`` (``kdim`` kept, size 1)
    and ``W`` there.  The first segment is found by a byte product and a max-reduction (``argmax`` on
    bytes is far slower on CPUs).  In exact arithmetic the first segment whose end reaches ``theta`` has
    ``W_q > 0`` (``V`` rose to ``theta`` on it), so ``W_q > 0`` is checked only at that segment; only
    where rounding breaks this is it applied to every segment.
    """
    k = reach.shape[kdim]
    last = (reach.view(torch.uint8) * rev).amax(kdim).mul_(alive)  # k - first segment; 0 = none or fired before
    first = (k - last.long()).clamp_(max=k - 1).unsqueeze(kdim)
    wc = cw.gather(kdim, first).squeeze(kdim)
    hit = last > 0
    if bool((hit & (wc <= 0)).any()):
        last = (reach.logical_and(cw > 0).view(torch.uint8) * rev).amax(kdim).mul_(alive)
        hit = last > 0
        first = (k - last.long()).clamp_(max=k - 1).unsqueeze(kdim)
        wc = cw.gather(kdim, first).squeeze(kdim)
    return hit, first, wc


class _Layout(NamedTuple):
    """How a step's ``(rows, k segments, out neurons)`` lie in memory; see :class:`_Scan`."""

    name: str
    rdim: int  # dimension of the rows
    kdim: int  # dimension of the segments
    by_rows: bool  # tensors without the segments are [r, out] (True) or [out, r] (False)

    def pairs(self, x: torch.Tensor) -> torch.Tensor:
        """A ``[r, out]`` tensor in this layout's order (a view)."""
        return x if self.by_rows else x.t()

    def rows(self, x: torch.Tensor, hs: slice) -> torch.Tensor:
        """Rows ``hs`` of a step tensor (a view)."""
        return x[(slice(None),) * self.rdim + (hs,)]


_LAYOUTS = {
    "wide": _Layout("wide", 0, 1, True),  # [r, k, out]
    "rows": _Layout("rows", 2, 1, False),  # [out, k, r]
    "pairs": _Layout("pairs", 1, 2, False),  # [out, r, k]
}


class _Scan:
    """Per-layer-call state of :func:`_scan` (scan-row order), its step layout and per-length constants.

    The layout of a step's tensors is chosen so that the reductions over its ``k`` segments vectorise
    over a long contiguous dimension:

    - ``wide`` (``out >= NARROW``): ``[r, k, out]``, potentials by one batched product per step;
    - ``rows`` (narrow layers, steps of at most ``ROWS_LAST_CHUNK``, e.g. convolutions with many
      positions): ``[out, k, r]``, running sums by products with the triangular ones matrix;
    - ``pairs`` (narrow layers with longer steps, e.g. a 10-neuron output layer): ``[out, r, k]``,
      running sums along the contiguous ``k``.
    """

    def __init__(self, weight: torch.Tensor, bsz: int, t_max: float, chunk: int) -> None:
        n_out, dev, dt = weight.shape[1], weight.device, weight.dtype
        self.dev, self.dt = dev, dt
        self.lay = _LAYOUTS["wide" if n_out >= NARROW else "rows" if chunk <= ROWS_LAST_CHUNK else "pairs"]
        self.t_out = torch.full((bsz, n_out), t_max, dtype=dt, device=dev)
        self.n_causal = torch.zeros((bsz, n_out), dtype=torch.long, device=dev)
        self.w_sum = torch.zeros((bsz, n_out), dtype=dt, device=dev)
        self.alive = torch.ones((bsz, n_out), dtype=torch.uint8, device=dev)  # 1 until the neuron fires
        self.carry_w = torch.zeros((bsz, n_out), dtype=dt, device=dev)  # W over the inputs scanned so far
        self.carry_v = torch.zeros((bsz, n_out), dtype=dt, device=dev)  # V at the next step's first input
        self.w_pad = _padded(weight)
        self.w_pad_t = self.w_pad.t().contiguous() if self.lay.name != "wide" else self.w_pad
        self._const: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def const(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per step length: ``[k, k]`` lower-triangular ones (running sums by a product) and ``k, .., 1``
        uint8 shaped to broadcast along the segments of this layout."""
        if k not in self._const:
            lower = torch.ones(k, k, dtype=self.dt, device=self.dev).tril_()
            rev = torch.arange(k, 0, -1, dtype=torch.uint8, device=self.dev)
            self._const[k] = (lower, rev.view(1, k, 1) if self.lay.kdim == 1 else rev)
        return self._const[k]


def _scan(
    src: _Sorted, weight: torch.Tensor, theta: float, t_max: float, chunk: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Spike times, causal-set sizes (0 = silent) and causal weight sums ``[B, out]``, in scan-row order.

    State carried from step to step, per (row, neuron): ``W`` (the weight sum of the inputs so far) and
    ``V`` at the first input time of the next step.  In a step of inputs ``t_0 <= .. <= t_{k-1}`` (next
    input ``t_k``, or ``t_max``), with ``g_s`` the gathered weight rows and ``W`` folded into ``g_0``, the
    potential at the end of segment ``q`` is ``V(t_{q+1}) = V + sum_{s<=q} g_s (t_{q+1} - t_s)``, formed
    for all segments at once (:func:`_potentials`).  The largest ``V`` of the step tells which rows have
    a neuron that reaches ``theta``; only those rows (from the first such one on) are compared segment
    by segment and get their running weight sums ``W_q``.  The spike time in the chosen segment is
    ``t_{q+1} - (V(t_{q+1}) - theta) / W_q``, Eq. 12 rearranged.
    """
    bsz, n_out = src.rows.shape[0], weight.shape[1]
    st = _Scan(weight, bsz, t_max, chunk)
    for block in _steps(src.n_spiking, src.n, chunk, n_out):
        for start, stop, row0, row1 in block:
            if _scan_step(st, src, theta, start, stop, row0, row1):
                break
    return st.t_out, st.n_causal, st.w_sum


def _potentials(
    st: _Scan, src: _Sorted, rs: slice, start: int, stop: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """A step's gathered weights, ``V(t_{q+1}) - V(t_0)``, ``W_q`` if formed (all in the step layout) and
    the new ``W`` (``[r, out]``).

    ``W`` of the earlier inputs is folded into the first input's weight.  ``wide``: one batched product
    with the ``[k, k]`` matrix ``relu(t_{q+1} - t_s)`` (zero for ``s > q``: the inputs are sorted) and a row
    of ones for the new ``W``; ``W_q`` is left to the caller (only rows with a crossing need it).  Narrow
    layouts: running sums ``W_q``, ``S_q`` and ``V = W_q t_{q+1} - S_q``, by products with the triangular
    ones matrix (``rows``; cumsum on GPUs) or along the contiguous ``k`` (``pairs``).
    """
    tk, nxt = src.times[rs, start:stop], src.times[rs, start + 1 : stop + 1]  # [r, k]: inputs, segment ends
    idx = src.rows_idx[rs, start:stop]
    (r, k), n_out = tk.shape, st.w_pad.shape[1]
    if st.lay.name == "wide":
        g = torch.empty((r, k, n_out), dtype=st.dt, device=st.dev)
        torch.index_select(st.w_pad, 0, idx.reshape(-1), out=g.view(r * k, n_out))
        g[:, 0] += st.carry_w[rs]
        seg = torch.empty((r, k + 1, k), dtype=st.dt, device=st.dev)
        torch.sub(nxt.unsqueeze(2), tk.unsqueeze(1), out=seg[:, :k]).clamp_(min=0.0)  # [r, q, s]: t_{q+1} - t_s
        seg[:, k] = 1.0
        vw = torch.bmm(seg, g)
        return g, vw[:, :k], None, vw[:, k]
    if st.lay.name == "rows":  # [out, k, r]
        g = st.w_pad_t.index_select(1, idx.t().reshape(-1)).view(n_out, k, r)
        g[:, 0] += st.carry_w[rs].t()
        tk, nxt = tk.t().contiguous(), nxt.t().contiguous()  # [k, r]
        gt = g * tk
        if st.dev.type == "cpu":
            lower = st.const(k)[0]
            cw, cs = torch.matmul(lower, g), torch.matmul(lower, gt)
        else:
            cw, cs = g.cumsum(1), gt.cumsum_(1)
        return g, torch.mul(cw, nxt).sub_(cs), cw, cw[:, -1].t()
    g = st.w_pad_t.index_select(1, idx.reshape(-1)).view(n_out, r, k)  # pairs: [out, r, k]
    g[:, :, 0] += st.carry_w[rs].t()
    cw = g.cumsum(-1)
    v = torch.mul(cw, nxt).sub_(torch.mul(g, tk).cumsum_(-1))
    return g, v, cw, cw[:, :, -1].t()


def _scan_step(st: _Scan, src: _Sorted, theta: float, start: int, stop: int, row0: int, row1: int) -> bool:
    """One step of :func:`_scan` over sorted inputs ``[start, stop)`` of rows ``[row0, row1)``; True = block done."""
    r, k, lay = row1 - row0, stop - start, st.lay
    rs = slice(row0, row1)
    g, v, cw, w_new = _potentials(st, src, rs, start, stop)
    carry_v, alive = st.carry_v[rs], st.alive[rs]
    thr = theta - carry_v  # [r, out]
    reached = lay.pairs(v.amax(lay.kdim)).ge_(thr).mul_(alive)  # an alive neuron of the row reaches theta
    done = False
    if bool(reached.any()):
        h0 = int(reached.any(1).to(torch.uint8).argmax())  # rows before h0 have no crossing here
        hs = slice(h0, r)
        lower, rev = st.const(k)
        if cw is not None:
            cw = lay.rows(cw, hs)
        elif st.dev.type != "cpu":
            cw = g[hs].cumsum(1)
        else:  # a product with [s <= q]: cumsum along a middle dimension is a slow strided loop on CPUs
            cw = torch.bmm(lower.expand(r - h0, -1, -1), g[hs])
        v_h, thr_h = lay.rows(v, hs), lay.pairs(thr[hs]).contiguous().unsqueeze(lay.kdim)
        hit, first, wc = _first_crossing(v_h.ge(thr_h), cw, rev, lay.pairs(alive[hs]), lay.kdim)
        vq = v_h.gather(lay.kdim, first).squeeze(lay.kdim)
        first = lay.pairs(first.squeeze(lay.kdim))  # [r, out] from here on
        hit, wc, vq = lay.pairs(hit), lay.pairs(wc), lay.pairs(vq)
        t_end = src.times[row0 + h0 : row1, start + 1 : stop + 1].gather(1, first)
        spike = vq.sub_(thr[hs]).div_(torch.where(hit, wc, 1.0)).neg_().add_(t_end)
        rows = slice(row0 + h0, row1)
        for out, value in ((st.t_out, spike), (st.w_sum, wc), (st.n_causal, first.add_(start + 1))):
            torch.where(hit, value, out[rows], out=out[rows])
        alive[hs].masked_fill_(hit, 0)
        done = not bool(alive.any())  # rows past row1 have no inputs left: the block is done
    st.carry_w[rs] = w_new
    carry_v.add_(lay.pairs(v.select(lay.kdim, k - 1)))
    return done


class _Backward(NamedTuple):
    """What the backward needs of one layer call (scan-row order, except ``t_in`` ``[B, in]``)."""

    src: _Sorted
    t_in: torch.Tensor  # input times clamped to t_max, original order, weight dtype
    weight: torch.Tensor
    t_out: torch.Tensor  # [B, out] spike times (t_max = silent)
    n_causal: torch.Tensor  # [B, out] causal-set sizes (0 = silent)
    w_sum: torch.Tensor  # [B, out] causal weight sums
    t_max: float
    chunk: int


def _grads(
    grad_out: torch.Tensor, ctx: _Backward, need_t: bool, need_w: bool, mode: str | None = None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Eq. 14-15 summed over the causal sets: ``dL/dt_in`` ``[B, in]`` (original order) and ``dL/dW``.

    With ``a_bj = g_bj / W_bj`` (zero for silent neurons), ``dL/dt_bi = sum_j [i in C_bj] a_bj w_ij`` and
    ``dL/dw_ij = sum_b [i in C_bj] a_bj (t_bi - t_bj)``.  Two exact ways to form these sums (``mode``):

    - ``causal``: scan each row's sorted inputs up to its largest causal set with the mask ``rank <
      |C_bj|`` (:func:`_grads_causal`);
    - ``complement``: the same sums over *every spiking* input are matrix products, ``s (a W^T)`` and
      ``(s t)^T a - s^T (a t_out)`` with ``s`` the spiking indicator; subtract the spiking inputs outside
      each causal set (``rank >= |C_bj|``), scanned from each row's last spiking input back to its
      smallest causal set (:func:`_grads_complement`).  Neurons usually fire after most of their inputs,
      so this region is a fraction of the causal one.

    ``None`` picks the cheaper by counting scanned (row, input) pairs, the products costing about
    ``in / DENSE_COST`` pairs per row.  Both give the same gradients up to rounding (tests hold both to
    the reference).
    """
    src, n_causal = ctx.src, ctx.n_causal
    fired = n_causal > 0
    safe = torch.where(fired, ctx.w_sum, torch.ones_like(ctx.w_sum))
    a = torch.where(fired, grad_out / safe, torch.zeros_like(grad_out))
    live = src.live
    nc, n_spk = n_causal[:live], src.n_spiking[:live]
    # per row: the largest causal set (causal scan) and the smallest over fired neurons (complement scan)
    hi = nc.amax(1) if live else nc.new_zeros(0)
    back = n_spk - torch.where(fired[:live], nc, n_spk.unsqueeze(1)).amin(1) if live else nc.new_zeros(0)
    if mode is None:
        mode = backward_mode(hi, back, ctx.weight.shape[0])
    if mode == "causal":
        return _grads_causal(a, hi, ctx, need_t, need_w)
    if mode == "complement":
        return _grads_complement(a, back, ctx, need_t, need_w)
    raise ValueError(f"relpsp backward: mode must be 'causal', 'complement' or None, got {mode!r}")


def backward_mode(causal_scan: torch.Tensor, complement_scan: torch.Tensor, n_in: int) -> str:
    """The cheaper backward: ``causal`` scans ``sum(causal_scan)`` (row, input) pairs, ``complement``
    ``sum(complement_scan)`` plus its matrix products, about ``n_in / DENSE_COST`` pairs per row."""
    causal = float(causal_scan.sum())
    complement = float(complement_scan.sum()) + causal_scan.numel() * n_in / DENSE_COST
    return "complement" if complement < causal else "causal"


def _masked_sums(
    counts: torch.Tensor,
    limit: torch.Tensor,
    a: torch.Tensor,
    t_out: torch.Tensor,
    rows_idx: torch.Tensor,
    times: torch.Tensor,
    weight: torch.Tensor,
    chunk: int,
    need_t: bool,
    need_w: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Eq. 14-15's sums over the (row ``b``, position ``p``, neuron ``j``) triples with ``p < limit_bj``.

    Per (row, position): ``sum_j [p < limit_bj] a_bj w_{i_bp j}`` (``[rows, n]``); per weight:
    ``sum_{b, p: i_bp = i} [p < limit_bj] a_bj (t_bp - t_bj)`` (``[in, out]``).  ``rows_idx``/``times``
    ``[rows, n]`` give the input and its time at each position (index ``in`` = the zero padding row),
    ``counts`` (non-increasing) how many positions of each row to visit, ``limit`` ``[rows, out]``.  The
    mask is ``clamp(limit - p, 0, 1)`` in floating point (a broadcast ``where`` is slower).  Narrow layers
    (``out < NARROW``) work on ``[out, r, k]`` tensors gathered from the transposed weights, so that the
    accumulation into ``dL/dW`` adds long runs of positions instead of short rows of ``out`` values.
    """
    n_rows, n_out = limit.shape
    dev, dt = weight.device, weight.dtype
    narrow = n_out < NARROW
    g_pos = torch.zeros((n_rows, times.shape[1]), dtype=dt, device=dev) if need_t else None
    padded_shape = (n_out, weight.shape[0] + 1) if narrow else (weight.shape[0] + 1, n_out)  # as gathered
    g_w = torch.zeros(padded_shape, dtype=dt, device=dev) if need_w else None
    w_src = (_padded(weight).t().contiguous() if narrow else _padded(weight)) if need_t else None
    n_max = int(counts[0]) if n_rows else 0
    if narrow:
        limit, a, t_out = (x.t().contiguous().unsqueeze(-1) for x in (limit, a, t_out))  # [out, rows, 1]
    else:
        limit, a, t_out = limit.unsqueeze(1), a.unsqueeze(1), t_out.unsqueeze(1)  # [rows, 1, out]
    for block in _steps(counts, n_max, chunk, n_out):
        for start, stop, row0, row1 in block:
            rs, r, k = slice(row0, row1), row1 - row0, stop - start
            idx = rows_idx[rs, start:stop].reshape(-1)
            pos = torch.arange(start, stop, dtype=dt, device=dev)
            if narrow:
                am = (limit[:, rs] - pos).clamp_(0.0, 1.0).mul_(a[:, rs])  # [out, r, k]
                if g_pos is not None and w_src is not None:
                    g_pos[rs, start:stop] = w_src.index_select(1, idx).view(n_out, r, k).mul_(am).sum(0)
                if g_w is not None:
                    contrib = torch.empty((n_out, r, k), dtype=dt, device=dev)
                    torch.sub(times[rs, start:stop], t_out[:, rs], out=contrib).mul_(am)
                    g_w.index_add_(1, idx, contrib.view(n_out, r * k))
            else:
                am = (limit[rs] - pos.view(1, k, 1)).clamp_(0.0, 1.0).mul_(a[rs])  # [r, k, out]
                if g_pos is not None and w_src is not None:
                    g_pos[rs, start:stop] = w_src.index_select(0, idx).view(r, k, n_out).mul_(am).sum(-1)
                if g_w is not None:
                    contrib = torch.sub(times[rs, start:stop].unsqueeze(-1), t_out[rs]).mul_(am)
                    g_w.index_add_(0, idx, contrib.view(r * k, n_out))
    if g_w is not None:
        g_w = (g_w.t() if narrow else g_w)[:-1]
    return g_pos, g_w


def _grads_causal(
    a: torch.Tensor, hi: torch.Tensor, ctx: _Backward, need_t: bool, need_w: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Eq. 14-15 by a scan over each row's causal inputs (``rank < |C_bj|``), rows by largest causal set."""
    src, dt, live = ctx.src, ctx.weight.dtype, ctx.src.live
    n_row, perm = stable_sort(hi, descending=True)
    g_sorted, g_w = _masked_sums(
        n_row, ctx.n_causal[perm].to(dt), a[perm], ctx.t_out[perm], src.rows_idx[perm], src.times[perm],
        ctx.weight, ctx.chunk, need_t, need_w,
    )
    g_t = None
    if g_sorted is not None:
        g_scan = torch.zeros_like(g_sorted)
        g_scan[perm] = g_sorted
        g_t = torch.zeros(ctx.t_in.shape, dtype=dt, device=g_sorted.device)
        g_live = torch.zeros((live, ctx.t_in.shape[1]), dtype=dt, device=g_sorted.device)
        g_t[src.rows[:live]] = g_live.scatter_(1, src.order, g_scan)
    return g_t, g_w


def _grads_complement(
    a: torch.Tensor, n_back: torch.Tensor, ctx: _Backward, need_t: bool, need_w: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Eq. 14-15 as matrix products over all spiking inputs, less a scan of the non-causal spiking ones.

    ``n_back`` ``[live]``: how many of each row's last spiking inputs (in time order) to scan; every
    non-causal spiking input of a fired neuron is among them.  Position ``p`` counted back from a row's
    last spiking input (``n_b - 1 - p`` in time order) is outside ``C_bj`` iff ``p < n_b - |C_bj|``.
    """
    src, weight = ctx.src, ctx.weight
    dev, dt, live = weight.device, weight.dtype, src.live
    a_o = torch.empty_like(a).index_copy_(0, src.rows, a)  # original row order
    spk = ctx.t_in < ctx.t_max
    s = spk.to(dt)
    g_t = torch.mm(a_o, weight.t()).mul_(s) if need_t else None
    g_w = None
    if need_w:
        t_o = torch.empty_like(ctx.t_out).index_copy_(0, src.rows, ctx.t_out)
        g_w = torch.mm(torch.where(spk, ctx.t_in, torch.zeros_like(ctx.t_in)).t(), a_o)
        g_w.addmm_(s.t(), a_o * t_o, alpha=-1.0)
    n_row, perm = stable_sort(n_back, descending=True)
    if live == 0 or int(n_row[0]) == 0:
        return g_t, g_w
    n_spk = src.n_spiking[:live][perm]
    back = torch.arange(int(n_row[0]), device=dev)
    pos = (n_spk.unsqueeze(1) - 1 - back).clamp_(min=0)  # [live, n_max] sorted position of each step back
    rows_idx = src.rows_idx[perm].gather(1, pos)
    outside = (n_spk.unsqueeze(1) - ctx.n_causal[perm]).to(dt)  # [live, out]: non-causal spiking inputs
    corr, corr_w = _masked_sums(
        n_row, outside, a[perm], ctx.t_out[perm], rows_idx, src.times[perm].gather(1, pos), weight, ctx.chunk,
        need_t, need_w,
    )
    if g_w is not None and corr_w is not None:
        g_w.sub_(corr_w)
    if g_t is not None and corr is not None:
        flat = src.rows[:live][perm].unsqueeze(1) * ctx.t_in.shape[1] + rows_idx
        g_t.view(-1).index_add_(0, flat.reshape(-1), corr.reshape(-1), alpha=-1.0)
    return g_t, g_w


class _FirstSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t_in, weight, theta, t_max, chunk):  # type: ignore[override]
        src = _sort_inputs(t_in.detach(), t_max, weight.dtype)
        t_out, n_causal, w_sum = _scan(src, weight.detach(), theta, t_max, chunk)
        ctx.save_for_backward(
            src.rows, src.times, src.order, src.rows_idx, src.n_spiking, t_in.detach(), weight, t_out, n_causal, w_sum
        )
        ctx.n, ctx.live, ctx.chunk, ctx.t_max, ctx.in_dtype = src.n, src.live, chunk, t_max, t_in.dtype
        return torch.empty_like(t_out).index_copy_(0, src.rows, t_out)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        rows, times, order, rows_idx, n_spiking, t_in, weight, t_out, n_causal, w_sum = ctx.saved_tensors
        src = _Sorted(rows, times, order, rows_idx, n_spiking, ctx.n, ctx.live)
        back = _Backward(
            src, t_in.clamp(max=ctx.t_max).to(weight.dtype), weight, t_out, n_causal, w_sum, ctx.t_max, ctx.chunk
        )
        g_t, g_w = _grads(grad_out[rows], back, ctx.needs_input_grad[0], ctx.needs_input_grad[1], BACKWARD_MODE)
        return (g_t.to(ctx.in_dtype) if g_t is not None else None), g_w, None, None, None


def first_spike_times(
    t_in: torch.Tensor, weight: torch.Tensor, theta: float = 1.0, t_max: float = 4.0, chunk: int | None = None
) -> torch.Tensor:
    """Exact first-spike times ``[B, out]`` of ReL-PSP neurons (Eq. 12) with STDBP gradients (Eq. 14-15).

    ``t_in`` ``[B, in]`` input spike times (``>= t_max`` or ``inf`` = no spike), ``weight`` ``[in, out]``.
    Silent neurons get ``t_max`` (zero gradient).  Fast chunked scan of ``chunk`` inputs per step
    (at most ``MAX_CHUNK``; larger values are capped); see the module docstring.
    """
    _check(t_in, weight, "first_spike_times")
    if chunk is None:
        chunk = _auto_chunk(t_in.shape[0], weight.shape[1], t_in.device)
    if chunk < 1:
        raise ValueError(f"first_spike_times: chunk must be >= 1, got {chunk}")
    return _FirstSpike.apply(t_in, weight, float(theta), float(t_max), min(int(chunk), MAX_CHUNK))


def _auto_chunk(rows: int, n_out: int, device: torch.device) -> int:
    """Inputs per scan step when none is given: ``DEFAULT_CHUNK``; narrow layers (running sums, no ``k^2``
    product) take longer steps, up to a ``TILE`` of ``rows * out * k`` elements on the CPU, since their
    steps are too small to pay for the per-step dispatch."""
    if n_out >= NARROW:
        return DEFAULT_CHUNK
    if device.type != "cpu":
        return MAX_CHUNK
    return int(min(MAX_CHUNK, max(DEFAULT_CHUNK, TILE // max(1, rows * n_out))))


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
