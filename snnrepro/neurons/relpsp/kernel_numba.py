"""The first-spike kernel of :mod:`snnrepro.neurons.relpsp.kernel` compiled for the CPU with numba.

Same neuron, same equations, same conventions (read that module's docstring): Eq. 12 forward, Eq. 14-15
backward over the causal set, silent neurons output ``t_max`` with zero gradient, an input time
``>= t_max`` (or ``+inf``) is no spike, ties keep the stable input order, a spike is the first segment
whose end reaches ``theta`` with a positive weight sum.  What differs is how the work is done: one pass
per (row, sorted input, neuron) in compiled loops instead of ~40 dispatched tensor operations per scan
step, so nothing is formed that the answer does not need.

**Forward** (:func:`_forward_rows`).  Rows run in parallel (``numba.prange`` over one contiguous block of
rows per thread, ``torch.get_num_threads()`` threads).  Each row first gathers its spiking inputs (time
``< t_max`` in the weight dtype, as the reference decides) and sorts them stably by time (:func:`_sort_row`:
insertion sort for short rows such as im2col patches, packed integer keys or a merge sort otherwise; the
same order as ``stable_sort`` in the PyTorch path; long rows of which at least ``PRESORT_DENSITY`` of the
inputs spike are instead sorted for the whole batch by ``stable_sort`` before the call), then
walks them in time order; per output neuron ``j`` (the inner
loop, contiguous in the ``[in, out]`` weight) it keeps the causal weight sum ``W_j`` and the potential
``V_j`` at the current input time.  After input ``p`` (time ``t_p``; the next input, or ``t_max``, at
``t_{p+1}``)::

    W_j += w_{i_p j}        V_j(t_{p+1}) = V_j(t_p) + W_j (t_{p+1} - t_p)

and the first ``p`` with ``W_j > 0`` and ``V_j(t_{p+1}) >= theta`` holds the spike: its causal set is the
``p + 1`` inputs so far and ``t_j = t_{p+1} - (V_j(t_{p+1}) - theta) / W_j`` (Eq. 12 rearranged, as the
PyTorch path writes it).  The inner loop is branch-free (selects only, so it vectorises); it records
``p + 1``, ``W_j`` and ``V_j(t_{p+1})`` of the first crossing, and a row stops as soon as all its neurons
fired.  The spike times are formed once per neuron afterwards (one division each, not one per input).

**Backward** (:func:`_grads`, :func:`_backward_rows`).  With ``a_bj = g_bj / W_bj`` (zero for silent
neurons) Eq. 14-15 are ``dL/dt_bi = sum_j [rank_b(i) < |C_bj|] a_bj w_ij`` and ``dL/dw_ij = sum_b
[rank_b(i) < |C_bj|] a_bj (t_bi - t_bj)``.  Two exact ways, the cheaper per call (:func:`backward_mode`),
as in the PyTorch path: ``causal`` walks each row's sorted inputs up to its largest causal set;
``complement`` forms the sums over *all* spiking inputs as three matrix products (PyTorch's GEMM) and
subtracts a walk over the spiking inputs outside the causal sets, from each row's smallest causal set to
its last spiking input (neurons usually fire after most of their inputs, so this walk is short).  Each
block of rows adds into its own ``[in, out]`` weight-gradient buffer (no races), summed at the end.

Rounding: the potential is summed in a different order than in the PyTorch path (incrementally here;
a step's batched product or running sums there), so times agree to float rounding (float32: about
1e-6 relative) and a neuron whose potential peaks within rounding of ``theta`` can fire in one path and
not in the other.  tests/test_relpsp_numba.py holds both to the reference.

Compiled functions are cached under ``__pycache__`` (``cache=True``): the first call in a fresh checkout
compiles (a few seconds per dtype), later processes load the cache.
"""

from __future__ import annotations

import os
import types
from typing import NamedTuple

import numpy as np
import torch

from snnrepro.neurons.stable_sort import stable_sort

try:  # numba is a dependency; the PyTorch path stays usable without it
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

AVAILABLE = numba is not None
if AVAILABLE and "NUMBA_THREADING_LAYER" not in os.environ:
    # numba's own thread pool, idle threads asleep: its OpenMP layer's threads spin after each call and slowed
    # the PyTorch operations between kernel calls (a 2x2 min-pooling 0.1 -> 16 ms on the 2-core bench machine)
    numba.config.THREADING_LAYER = "workqueue"
BACKWARD_MODE: str | None = None  # 'causal', 'complement' or None (the cheaper per call; tests pin each)
SORT_IN_KERNEL = 64  # rows of at most this many inputs (im2col patches) are sorted in the kernel, row by row
PRESORT_DENSITY = 0.5  # longer rows too (in parallel) when fewer than this fraction of their inputs spike
GEMM_PER_SCAN = 7  # backward: a matrix product's multiply-add costs ~1/7 of a scanned (position, neuron) (measured)
SERIAL_AT_ONE_THREAD = True  # one-thread calls run the serially compiled kernels (no parallel launch)


def _threads() -> int:
    """Threads for one kernel call: PyTorch's setting, within numba's pool."""
    n = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n


def _kernel(parallel, serial, n_blocks: int):  # noqa: ANN001, ANN202
    """The parallel kernel, or its serial twin for a one-thread call (``SERIAL_AT_ONE_THREAD``)."""
    return serial if n_blocks == 1 and SERIAL_AT_ONE_THREAD else parallel


if AVAILABLE:

    @numba.njit(cache=True, nogil=True)
    def _sort_row(t_row, t_max, times, order):  # noqa: ANN001, ANN202
        """A row's spiking inputs (``< t_max``) in stable time order into ``times``/``order``; their count.

        Insertion sort for short rows (im2col rows of a few dozen inputs); above 48 spiking inputs, float32
        rows sort int64 keys ``(order-preserving bits of t) << 32 | position`` (distinct, so any sort gives
        the stable order: the key of :mod:`snnrepro.neurons.stable_sort`), float64 rows a stable merge sort.
        """
        n = 0
        for i in range(t_row.shape[0]):
            t = t_row[i]
            if t < t_max:
                times[n] = t
                order[n] = i
                n += 1
        if n <= 48:
            for p in range(1, n):
                t, i = times[p], order[p]
                q = p - 1
                while q >= 0 and times[q] > t:
                    times[q + 1] = times[q]
                    order[q + 1] = order[q]
                    q -= 1
                times[q + 1] = t
                order[q + 1] = i
            return n
        if times.itemsize == 4:  # float32: an unstable sort of distinct int64 keys, as stable_sort does
            bits = times[:n].view(np.int32)
            keys = np.empty(n, np.int64)
            for p in range(n):
                b = bits[p] if bits[p] != -2147483648 else 0  # -0.0 sorts as +0.0 (they compare equal)
                keys[p] = (np.int64(b ^ ((b >> 31) & 0x7FFFFFFF)) << 32) | p
            keys.sort()
            perm = keys & 0xFFFFFFFF
        else:
            perm = np.argsort(times[:n], kind="mergesort")
        ts = times[:n].copy()
        idx = order[:n].copy()
        for p in range(n):
            times[p] = ts[perm[p]]
            order[p] = idx[perm[p]]
        return n

    def _forward_rows_py(t_in, w, theta, t_max, n_blocks, presorted, ts, order, n_spk, t_out, n_causal, w_sum):  # noqa: ANN001, ANN202
        """Eq. 12 per (row, neuron).  ``t_in`` ``[B, N]`` input times (weight dtype), ``w`` ``[N, M]``.
        Fills ``ts``/``order``/``n_spk`` (each row's spiking inputs in time order, their indices and count:
        what the backward walks) and ``t_out``, ``n_causal`` (0 = silent), ``w_sum``.  ``presorted``: the
        caller already put every row's times (clamped to ``t_max``) in stable order into ``ts``/``order``."""
        n_rows = t_in.shape[0]
        n_out = w.shape[1]
        zero = w.dtype.type(0)
        for blk in numba.prange(n_blocks):
            cw = np.empty(n_out, w.dtype)
            v = np.empty(n_out, w.dtype)
            v_hit = np.empty(n_out, w.dtype)
            nc = np.empty(n_out, np.int32)
            for b in range(blk * n_rows // n_blocks, (blk + 1) * n_rows // n_blocks):
                if presorted:
                    n = 0
                    while n < ts.shape[1] and ts[b, n] < t_max:
                        n += 1
                else:
                    n = _sort_row(t_in[b], t_max, ts[b], order[b])
                n_spk[b] = n
                cw[:] = zero
                v[:] = zero
                v_hit[:] = zero
                nc[:] = 0
                left = n_out
                for p in range(n):
                    t_p = ts[b, p]
                    t_next = ts[b, p + 1] if p + 1 < n else t_max
                    dt = t_next - t_p
                    wrow = w[order[b, p]]
                    fired = 0
                    for j in range(n_out):
                        wj = cw[j] + wrow[j]
                        vj = v[j] + wj * dt
                        cw[j] = wj
                        v[j] = vj
                        first = (vj >= theta) & (wj > zero) & (nc[j] == 0)
                        nc[j] = p + 1 if first else nc[j]
                        v_hit[j] = vj if first else v_hit[j]
                        w_sum[b, j] = wj if first else w_sum[b, j]
                        fired += first
                    left -= fired
                    if left == 0:
                        break
                for j in range(n_out):
                    q = nc[j]
                    n_causal[b, j] = q
                    if q > 0:
                        t_end = ts[b, q] if q < n else t_max
                        t_out[b, j] = t_end - (v_hit[j] - theta) / w_sum[b, j]
                    else:
                        t_out[b, j] = t_max
                        w_sum[b, j] = zero

    def _backward_rows_py(ts, order, w, t_out, n_causal, a, lo, hi, outside, n_blocks, g_t, g_w_parts):  # noqa: ANN001, ANN202
        """Eq. 14-15's sums over sorted positions ``lo[b] <= p < hi[b]`` of each row, for the (position, neuron)
        pairs inside the causal set (``p < |C_bj|``), or outside it if ``outside``.

        ``g_t`` ``[B, N]`` (original input order; zero-sized first axis: not needed) gets each visited
        position's sum, ``g_w_parts`` ``[n_blocks, N, M]`` (zeroed by the caller; zero-sized: not needed)
        one weight-gradient buffer per block of rows (no two threads add into the same one).
        """
        n_rows = ts.shape[0]
        n_out = w.shape[1]
        zero = w.dtype.type(0)
        need_t, need_w = g_t.shape[0] > 0, g_w_parts.shape[0] > 0
        for blk in numba.prange(n_blocks):
            for b in range(blk * n_rows // n_blocks, (blk + 1) * n_rows // n_blocks):
                for p in range(lo[b], hi[b]):
                    i = order[b, p]
                    t_p = ts[b, p]
                    if need_t:
                        wrow = w[i]
                        acc = zero
                        for j in range(n_out):
                            c = a[b, j] if (n_causal[b, j] > p) != outside else zero
                            acc += c * wrow[j]
                        g_t[b, i] = acc
                    if need_w:
                        grow = g_w_parts[blk, i]
                        for j in range(n_out):
                            c = a[b, j] if (n_causal[b, j] > p) != outside else zero
                            grow[j] += c * (t_p - t_out[b, j])

    def _parallel_and_serial(fn):  # noqa: ANN001, ANN202
        """``fn`` compiled twice: with ``parallel=True`` (blocks of rows over numba's thread pool) and serially
        (``prange`` runs as ``range``; its own name, so its own cache file).  One-thread calls take the serial
        one: the launch of a parallel region costs ~0.05 ms on an idle core and far more while other processes
        share the CPU, a sizeable part of a 784-400-10 step (four calls per step;
        results/bench/one-thread/stdbp-serial-ab.md)."""
        serial = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__.removesuffix("_py") + "_serial")
        serial.__qualname__ = serial.__name__
        return numba.njit(parallel=True, cache=True, nogil=True)(fn), numba.njit(cache=True, nogil=True)(serial)

    _forward_rows, _forward_rows_serial = _parallel_and_serial(_forward_rows_py)
    _backward_rows, _backward_rows_serial = _parallel_and_serial(_backward_rows_py)


class _Saved(NamedTuple):
    """What the backward needs of one forward call (NumPy arrays, original row order)."""

    t_in: np.ndarray  # [B, N] input times, weight dtype
    ts: np.ndarray  # [B, N] each row's spiking input times in stable time order (prefix of n_spk)
    order: np.ndarray  # [B, N] their input indices
    n_spk: np.ndarray  # [B] spiking inputs per row
    w: np.ndarray  # [N, M]
    t_out: np.ndarray  # [B, M] spike times (t_max = silent)
    n_causal: np.ndarray  # [B, M] causal-set sizes (0 = silent)
    w_sum: np.ndarray  # [B, M] causal weight sums
    t_max: float


def backward_mode(sv: _Saved, need_t: bool = True, need_w: bool = True) -> tuple[str, np.ndarray, np.ndarray]:
    """The cheaper backward (``BACKWARD_MODE`` pins one) and each row's range of sorted positions to scan.

    ``causal``: positions ``[0, max_j |C_bj|)``; ``complement``: ``[min_j |C_bj|, n_b)`` over fired neurons,
    plus one ``[B, N] x [N, M]``-sized matrix product for ``dL/dt`` and two for ``dL/dW``, each
    multiply-add counted as ``1 / GEMM_PER_SCAN`` scanned (position, neuron) pair.  Scans cost ``M`` per
    position.
    """
    fired = sv.n_causal > 0
    hi = sv.n_causal.max(1).astype(np.int32)
    lo = np.where(fired, sv.n_causal, sv.n_spk[:, None]).min(1).astype(np.int32)
    mode = BACKWARD_MODE
    if mode is None:
        bsz, (n_in, n_out) = len(sv.n_spk), sv.w.shape
        products = int(need_t) + 2 * int(need_w)
        complement = float((sv.n_spk - lo).sum()) * n_out + products * bsz * n_in * n_out / GEMM_PER_SCAN
        mode = "complement" if complement < float(hi.sum()) * n_out else "causal"
    if mode == "causal":
        return mode, np.zeros_like(hi), hi
    if mode == "complement":
        return mode, lo, sv.n_spk
    raise ValueError(f"relpsp numba backward: mode must be 'causal', 'complement' or None, got {mode!r}")


def _grads(sv: _Saved, grad_out: np.ndarray, need_t: bool, need_w: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Eq. 14-15: ``dL/dt_in`` ``[B, N]`` and ``dL/dW`` ``[N, M]``, by a scan of the causal sets or as matrix
    products over all spiking inputs less a scan of the spiking inputs outside the causal sets."""
    fired = sv.n_causal > 0
    a = np.where(fired, grad_out / np.where(fired, sv.w_sum, 1), 0).astype(sv.w.dtype)  # dL/dt_j / W_j
    mode, lo, hi = backward_mode(sv, need_t, need_w)
    n_blocks = _threads()
    g_t = np.zeros(sv.ts.shape if need_t else (0, 0), sv.w.dtype)
    g_w_parts = np.zeros((n_blocks, *sv.w.shape) if need_w else (0, 0, 0), sv.w.dtype)
    outside = mode == "complement"
    _kernel(_backward_rows, _backward_rows_serial, n_blocks)(
        sv.ts, sv.order, sv.w, sv.t_out, sv.n_causal, a, lo, hi, outside, n_blocks, g_t, g_w_parts
    )
    g_w = g_w_parts.sum(0) if need_w else None
    if not outside:
        return (g_t if need_t else None), g_w
    # every spiking input of every fired neuron (a = 0 for silent ones), as products in PyTorch's thread pool
    t_in, a_t, w_t = torch.from_numpy(sv.t_in), torch.from_numpy(a), torch.from_numpy(sv.w)
    spk = t_in < float(sv.t_max)
    s = spk.to(a_t.dtype)
    full_t = torch.mm(a_t, w_t.t()).mul_(s).numpy() - g_t if need_t else None
    if g_w is not None:
        full_w = torch.mm(torch.where(spk, t_in, 0.0).t(), a_t)
        full_w.addmm_(s.t(), a_t * torch.from_numpy(sv.t_out), alpha=-1.0)
        g_w = full_w.numpy() - g_w
    return full_t, g_w


class _FirstSpikeNumba(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t_in, weight, theta, t_max):  # type: ignore[override]
        w = weight.detach().contiguous().numpy()
        np_dt = w.dtype.type
        t = np.ascontiguousarray(t_in.detach().to(weight.dtype).numpy())
        (bsz, n_in), n_out = t.shape, w.shape[1]
        # Long rows where most inputs spike (a hidden layer's times): NumPy's SIMD sort of the whole batch
        # (stable_sort, one thread) beats a sort per row.  Sparse rows (MNIST pixels, ~19 % spike) sort only
        # their spiking inputs inside the kernel, the rows in parallel, which costs less.
        presorted = n_in > SORT_IN_KERNEL and float(np.count_nonzero(t < t_max)) >= PRESORT_DENSITY * t.size
        if presorted:
            ts_t, order_t = stable_sort(torch.from_numpy(t).clamp(max=float(np_dt(t_max))))
            ts, order = np.ascontiguousarray(ts_t.numpy()), np.ascontiguousarray(order_t.to(torch.int32).numpy())
        else:
            ts, order = np.empty((bsz, n_in), w.dtype), np.empty((bsz, n_in), np.int32)
        n_spk = np.empty(bsz, np.int32)
        t_out = np.empty((bsz, n_out), w.dtype)
        n_causal = np.empty((bsz, n_out), np.int32)
        w_sum = np.zeros((bsz, n_out), w.dtype)
        n_blocks = _threads()
        _kernel(_forward_rows, _forward_rows_serial, n_blocks)(
            t, w, np_dt(theta), np_dt(t_max), n_blocks, presorted, ts, order, n_spk, t_out, n_causal, w_sum
        )
        ctx.saved = _Saved(t, ts, order, n_spk, w, t_out, n_causal, w_sum, np_dt(t_max))
        ctx.in_dtype = t_in.dtype
        return torch.from_numpy(t_out.copy())  # the saved array must not change if the output is edited in place

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        sv: _Saved = ctx.saved
        need_t, need_w = bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1])
        g = np.ascontiguousarray(grad_out.detach().to(torch.from_numpy(sv.w).dtype).numpy())
        g_t, g_w = _grads(sv, g, need_t, need_w)
        grad_t = torch.from_numpy(g_t).to(ctx.in_dtype) if g_t is not None else None
        return grad_t, (torch.from_numpy(g_w) if g_w is not None else None), None, None


def first_spike_times_numba(
    t_in: torch.Tensor, weight: torch.Tensor, theta: float = 1.0, t_max: float = 4.0
) -> torch.Tensor:
    """:func:`~snnrepro.neurons.relpsp.kernel.first_spike_times` by the compiled CPU kernel (module docstring).

    ``t_in`` ``[B, in]`` input spike times (``>= t_max`` or ``inf`` = no spike), ``weight`` ``[in, out]``,
    both CPU tensors (float32 or float64 weights).  Silent neurons get ``t_max`` (zero gradient).
    """
    from snnrepro.neurons.relpsp.kernel import _check

    _check(t_in, weight, "first_spike_times_numba")
    if not AVAILABLE:
        raise RuntimeError("first_spike_times_numba: numba is not installed (pip install numba)")
    if t_in.device.type != "cpu" or weight.device.type != "cpu":
        raise ValueError(f"first_spike_times_numba: CPU tensors only, got {t_in.device} and {weight.device}")
    if weight.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"first_spike_times_numba: float32 or float64 weights, got {weight.dtype}")
    return _FirstSpikeNumba.apply(t_in, weight, float(theta), float(t_max))
