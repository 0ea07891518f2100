"""The numba first-spike kernel (``snnrepro/neurons/relpsp/kernel_numba.py``) against the PyTorch kernel and
the reference: spike times, silent/firing pattern and Eq. 14-15 gradients, on dense and conv layers, the
edge cases of the conventions, finite differences, and the kernel choice (``auto`` = numba on CPUs).

Tolerances.  float64: times 1e-12, gradients 1e-10 (rounding only).  float32: the potential is summed in
another order than in the PyTorch kernel, so times agree to ``rtol`` 1e-5 and gradients (``1/W`` amplifies
rounding) to 1e-3.  A neuron whose potential peaks within rounding of ``theta`` may fire in one kernel and
not in the other: the random and MNIST-like inputs here are checked to have none (the firing pattern must
be *identical*), and :func:`test_crossing_exactly_at_theta_in_exact_arithmetic` pins the boundary itself
with dyadic numbers (no rounding anywhere), where both kernels must agree bit for bit.
"""

from __future__ import annotations

import pytest
import torch
from relpsp_checks import assert_layer_matches_reference

from snnrepro.encoders.latency import Latency
from snnrepro.models.relpsp import build
from snnrepro.neurons.relpsp import (
    RelPspConfig,
    RelPspConv2d,
    RelPspDense,
    first_spike_times,
    first_spike_times_reference,
    kernel_numba,
    resolve_kernel,
)
from snnrepro.neurons.relpsp.kernel_numba import first_spike_times_numba

pytestmark = pytest.mark.skipif(not kernel_numba.AVAILABLE, reason="numba not installed")

T_MAX = 4.0
INF = float("inf")


@pytest.fixture(params=["causal", "complement"])
def mode(request, monkeypatch) -> str:  # noqa: ANN001
    """Both exact backward ways of the numba kernel (scan of the causal sets; products less the rest)."""
    monkeypatch.setattr(kernel_numba, "BACKWARD_MODE", request.param)
    return request.param


@pytest.fixture(params=["batch", "row"])
def sorting(request, monkeypatch) -> str:  # noqa: ANN001
    """Both ways of sorting the inputs: the whole batch by ``stable_sort`` before the kernel (long rows), or
    each row inside it (short rows or wide layers; insertion sort up to 48 spiking inputs, packed keys
    (float32) or merge sort (float64) above)."""
    monkeypatch.setattr(kernel_numba, "SORT_IN_KERNEL", 0 if request.param == "batch" else 10**9)
    monkeypatch.setattr(kernel_numba, "PRESORT_DENSITY", 0.0)
    return request.param


def _inputs(b: int, n: int, seed: int, silent: float = 0.3, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(b, n, generator=g, dtype=torch.float64)
    t[torch.rand(b, n, generator=g) < silent] = INF
    t[:, : n // 6] = torch.round(t[:, : n // 6] * 4) / 4  # ties, as in quantised pixels
    t[0] = INF  # a row without any spiking input
    t[1, :3] = T_MAX  # inputs exactly at the window's end: no spike
    t[1, 3:5] = T_MAX + 1.0
    return t.to(dtype)


def _grads(fn, t: torch.Tensor, w: torch.Tensor, up: torch.Tensor):  # noqa: ANN001, ANN202
    tt, ww = t.clone().requires_grad_(), w.clone().requires_grad_()
    out = fn(tt, ww, 1.0, T_MAX)
    g_t, g_w = torch.autograd.grad((out * up).sum(), (tt, ww))
    return out.detach(), g_t, g_w


def _compare(t: torch.Tensor, w: torch.Tensor, rtol: float, gtol: float, against=first_spike_times_reference) -> None:  # noqa: ANN001
    """numba vs ``against``: same firing pattern, times to ``rtol``, gradients of a random loss to ``gtol``."""
    g = torch.Generator().manual_seed(99)
    up = torch.randn(t.shape[0], w.shape[1], generator=g, dtype=w.dtype)
    o1, gt1, gw1 = _grads(first_spike_times_numba, t, w, up)
    o2, gt2, gw2 = _grads(against, t, w, up)
    assert o1.dtype == w.dtype and o1.shape == (t.shape[0], w.shape[1])
    fired = o2 < T_MAX
    assert torch.equal(o1 < T_MAX, fired), "firing pattern differs"
    assert bool(fired.any()) and bool((~fired).any())
    assert bool((o1[0] == T_MAX).all())  # the row without spiking inputs is silent
    torch.testing.assert_close(o1, o2, rtol=rtol, atol=0.0)
    assert float(gw2.abs().max()) > 0 and float(gt2.abs().max()) > 0
    torch.testing.assert_close(gt1, gt2, rtol=gtol, atol=gtol * float(gt2.abs().max()))
    torch.testing.assert_close(gw1, gw2, rtol=gtol, atol=gtol * float(gw2.abs().max()))
    assert float(gt1[~(t < T_MAX)].abs().max()) == 0.0  # no gradient to inputs that did not spike


@pytest.mark.parametrize("n_out,silent", [(3, 0.5), (40, 0.5), (7, 0.1)])
def test_dense_equals_reference_float64(n_out: int, silent: float, mode: str, sorting: str) -> None:
    g = torch.Generator().manual_seed(n_out)
    t = _inputs(16, 60, 7, silent=silent)
    assert silent > 0.2 or int((t < T_MAX).sum(1).max()) > 48  # rows long enough for the merge sort
    w = torch.randn(60, n_out, generator=g, dtype=torch.float64) * 0.3 + 0.04  # negative weights: W <= 0 segments
    w[:, 0] = -0.1  # a neuron that never fires
    _compare(t, w, rtol=1e-12, gtol=1e-10)


def test_dense_equals_both_paths_float32(mode: str) -> None:
    g = torch.Generator().manual_seed(12)
    t = _inputs(32, 100, 13, silent=0.7, dtype=torch.float32)
    w = (torch.randn(100, 50, generator=g) * 0.2 + 0.03).float()
    _compare(t, w, rtol=1e-5, gtol=1e-3)
    _compare(t, w, rtol=1e-5, gtol=1e-3, against=first_spike_times)


def test_mnist_like_inputs_at_the_specs_settings(mode: str, sorting: str) -> None:
    """Latency-coded quantised pixels (~20 % spike, many ties), t_max 1000, weights N(5/in, 1/in), float32:
    the regime the specs train in, through a 2-layer net (the hidden layer's silent t_max feeds layer 2).

    Late crossings (times up to a few hundred, small ``W``) are ill-conditioned in float32, so both float32
    kernels are held to the float64 reference: the same firing pattern, times to 5e-4 relative (measured:
    numba 1.1e-4, the PyTorch kernel 3.6e-4), gradients to 1e-3 of the largest one (measured: numba's
    causal scan 1.3e-4, its complement 4.6e-4 (the products less the scan cancel), the PyTorch kernel 2.7e-4).
    """
    g = torch.Generator().manual_seed(5)
    img = (torch.randint(0, 256, (24, 196), generator=g) * (torch.rand(24, 196, generator=g) < 0.2)).float() / 255
    t = Latency(t_in_max=1.0, zero="none")(img)
    t[0] = INF
    w1 = torch.randn(196, 64, generator=g) / 14 + 5 / 196
    w2 = torch.randn(64, 10, generator=g) / 8 + 5 / 64
    up = torch.randn(24, 10, generator=g)
    results = []
    for fn, dt in ((first_spike_times_reference, torch.float64), (first_spike_times_numba, torch.float32),
                   (first_spike_times, torch.float32)):  # fmt: skip
        tt, a, b = (x.to(dt).requires_grad_() for x in (t, w1, w2))
        h = fn(tt, a, 1.0, 1000.0)
        out = fn(h, b, 1.0, 1000.0)
        grads = torch.autograd.grad((out * up.to(dt)).sum(), (tt, a, b))
        results.append([x.detach().double() for x in (h, out, *grads)])
    ref, fast, torch_path = results
    assert bool((ref[0] == 1000).any()) and bool((ref[0] < 1000).any()) and bool((ref[1] < 1000).any())
    for x, y, z in zip(fast[:2], ref[:2], torch_path[:2], strict=True):
        assert torch.equal(x < 1000, y < 1000) and torch.equal(z < 1000, y < 1000)
        torch.testing.assert_close(x, y, rtol=5e-4, atol=0.0)
    for x, y, z in zip(fast[2:], ref[2:], torch_path[2:], strict=True):
        scale = float(y.abs().max())
        assert scale > 0
        assert float((x - y).abs().max()) <= 1e-3 * scale and float((z - y).abs().max()) <= 1e-3 * scale


def test_conv_layer_equals_reference_with_gradients(mode: str, sorting: str) -> None:
    torch.manual_seed(3)
    fast = RelPspConv2d(2, 4, (3, 3), config=RelPspConfig(t_max=T_MAX, mean=4.0, gain=1.5, kernel="numba")).double()
    ref = RelPspConv2d(2, 4, (3, 3), t_max=T_MAX, mean=4.0, gain=1.5, reference=True).double()
    t = _inputs(3, 2 * 9 * 9, 4, silent=0.8).view(3, 2, 9, 9)
    assert_layer_matches_reference(fast, ref, t, T_MAX)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_row_sort_of_long_rows_equals_the_batch_sort(monkeypatch, dtype: torch.dtype, mode: str) -> None:  # noqa: ANN001
    """Rows of 60-200 spiking inputs sorted inside the kernel (packed keys for float32, merge sort for float64)
    walk the same stable order as ``stable_sort`` of the whole batch: ties (quantised times), ``-0.0`` next to
    ``+0.0`` and negative times included, so times and gradients are bitwise equal."""
    g = torch.Generator().manual_seed(21)
    t = torch.round(torch.rand(12, 256, generator=g, dtype=torch.float64) * 16) / 16 - 0.25  # many ties, some < 0
    t[torch.rand(12, 256, generator=g) < 0.4] = INF
    t[2, ::7] = -0.0
    t[2, 3::7] = 0.0
    t = t.to(dtype)
    spiking = (t < T_MAX).sum(1)
    assert int(spiking.min()) > 48 and bool((t == 0).sum() > 20)
    w = (torch.randn(256, 80, generator=g, dtype=torch.float64) * 0.1 + 0.01).to(dtype)
    up = torch.randn(12, 80, generator=g, dtype=dtype)
    results = []
    for sort_in_kernel, presort_density in ((0, 0.0), (10**9, 0.0), (0, 1.1)):  # batch, row, row (sparse rule)
        monkeypatch.setattr(kernel_numba, "SORT_IN_KERNEL", sort_in_kernel)
        monkeypatch.setattr(kernel_numba, "PRESORT_DENSITY", presort_density)
        results.append(_grads(first_spike_times_numba, t, w, up))
    batch, row, sparse = results
    assert bool((batch[0] < T_MAX).any()) and bool((batch[0] == T_MAX).any())
    for a, b, c in zip(batch, row, sparse, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    torch.testing.assert_close(batch[0], first_spike_times_reference(t.double(), w.double(), 1.0, T_MAX).to(dtype),
                               rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=1e-6)  # fmt: skip


def test_many_row_blocks_add_their_weight_gradients(monkeypatch, mode: str) -> None:  # noqa: ANN001
    """Rows split into more blocks than rows of some sizes: every block's weight-gradient buffer is summed."""
    g = torch.Generator().manual_seed(8)
    t = _inputs(10, 30, 9, silent=0.4)
    w = torch.randn(30, 7, generator=g, dtype=torch.float64) * 0.3 + 0.08
    for blocks in (3, 7, 16):
        monkeypatch.setattr(kernel_numba, "_threads", lambda b=blocks: b)
        _compare(t, w, rtol=1e-12, gtol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_one_thread_calls_run_the_serial_twins_bitwise_equal(monkeypatch, dtype: torch.dtype, mode: str) -> None:  # noqa: ANN001
    """A one-thread call takes the serially compiled kernels (no parallel launch); they compute bitwise what the
    parallel ones compute on one block, and the reference's times and gradients."""
    g = torch.Generator().manual_seed(12)
    t = _inputs(9, 120, 13, silent=0.5).to(dtype)
    w = (torch.randn(120, 24, generator=g, dtype=torch.float64) * 0.2 + 0.03).to(dtype)
    up = torch.randn(9, 24, generator=g, dtype=dtype)
    monkeypatch.setattr(kernel_numba, "_threads", lambda: 1)
    called = []
    for name in ("_forward_rows_serial", "_backward_rows_serial"):
        real = getattr(kernel_numba, name)
        monkeypatch.setattr(kernel_numba, name, lambda *a, f=real, n=name: called.append(n) or f(*a))
    serial = _grads(first_spike_times_numba, t, w, up)
    assert called == ["_forward_rows_serial", "_backward_rows_serial"]
    if dtype == torch.float64:
        _compare(t, w, rtol=1e-12, gtol=1e-10)
    called.clear()
    monkeypatch.setattr(kernel_numba, "SERIAL_AT_ONE_THREAD", False)
    parallel = _grads(first_spike_times_numba, t, w, up)
    assert called == []  # the parallel kernels ran this time
    assert bool((serial[0] < T_MAX).any()) and bool((serial[0] == T_MAX).any())
    for a, b in zip(serial, parallel, strict=True):
        assert torch.equal(a, b)


def test_gradients_match_finite_differences(mode: str) -> None:
    g = torch.Generator().manual_seed(4)
    t = _inputs(4, 10, 5)
    w = (torch.randn(10, 6, generator=g, dtype=torch.float64) * 0.5 + 0.15).requires_grad_()
    finite = t < T_MAX
    assert bool((first_spike_times_numba(t, w.detach(), 1.0, T_MAX) < T_MAX).any())

    def f(tf: torch.Tensor, ww: torch.Tensor) -> torch.Tensor:
        tt = t.clone()
        tt[finite] = tf
        return first_spike_times_numba(tt, ww, 1.0, T_MAX)

    assert torch.autograd.gradcheck(f, (t[finite].clone().requires_grad_(), w), eps=1e-7, atol=1e-5)


def test_edge_cases_of_the_conventions(mode: str) -> None:
    """Silent neuron (t_max, zero gradient), crossing exactly at an input time (that input is not causal),
    a dip below zero before the rise (W <= 0 segments), inputs at/after t_max and +inf ignored, ties."""
    w = torch.tensor([[-1.0, 2.0, -1.0, 1.0], [-1.0, 2.0, 3.0, 1.0]] + [[-1.0, 2.0, 0.0, 1.0]] * 3, dtype=torch.float64)
    t = torch.tensor([[0.0, 0.5, INF, T_MAX, 5.0], [1.0, 1.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
    for fn in (first_spike_times_numba, first_spike_times_reference, first_spike_times):
        tt, ww = t.clone().requires_grad_(), w.clone().requires_grad_()
        out = fn(tt, ww, 1.0, T_MAX)
        # row 0: neuron 0 silent; neuron 1: 2 t = 1 at t = 0.5 exactly when input 1 arrives -> 0.5, C = {0};
        # neuron 2: -t until 0.5, then slope 2: V(0.5) = -0.5, reaches 1 at 0.5 + 1.5 / 2 = 1.25;
        # neuron 3: slope 1 to t = 0.5 (V = 0.5), then slope 2: 0.75
        # row 1: five tied inputs at t = 1: W = 5 (neuron 1: 10, neuron 3: 5), neuron 2: W = 2
        expect = [[T_MAX, 0.5, 1.25, 0.75], [T_MAX, 1.1, 1.5, 1.2]]
        torch.testing.assert_close(out.detach(), torch.tensor(expect, dtype=torch.float64), rtol=1e-12, atol=0.0)
        g_t, g_w = torch.autograd.grad(out[0, 1] + out[0, 0], (tt, ww))
        # d t_1 / d t_0 = w_01 / W = 1, and nothing for input 1 (arrived exactly at the spike: not causal)
        assert g_t[0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0] and float(g_t[1].abs().sum()) == 0.0
        assert g_w[:, 0].tolist() == [0.0] * 5 and g_w[:, 1].tolist() == [-0.25, 0.0, 0.0, 0.0, 0.0]


def test_crossing_exactly_at_theta_in_exact_arithmetic(mode: str) -> None:
    """The boundary that rounding could flip, with dyadic values so that nothing rounds: neuron 0's potential
    ``t / 4`` reaches theta exactly at the window's end (fires, at ``t_max``, with a gradient: ``>=``), neuron
    1's falls short by 2^-19 (silent, no gradient), neuron 2's passes it by 2^-21 (fires just before
    ``t_max``).  Both kernels and the reference agree, in float32 and float64."""
    for dtype in (torch.float32, torch.float64):
        t = torch.tensor([[0.0, 2.0, 3.5]], dtype=dtype)
        w = torch.tensor([[0.25, 0.25, 0.25], [0.0, -(2.0**-20), 0.0], [0.0, 0.0, 2.0**-20]], dtype=dtype)
        for fn in (first_spike_times_numba, first_spike_times, first_spike_times_reference):
            ww = w.clone().requires_grad_()
            out = fn(t, ww, 1.0, T_MAX)
            times = out.detach()[0].tolist()
            assert times[:2] == [T_MAX, T_MAX] and 3.99 < times[2] < T_MAX, fn.__name__
            g0, g1 = (torch.autograd.grad(out[0, j], ww, retain_graph=True)[0] for j in (0, 1))
            assert g0[:, 0].tolist() == [-16.0, -8.0, -2.0], fn.__name__  # (t_i - t_j) / W, all three causal
            assert float(g1.abs().sum()) == 0.0, fn.__name__


def test_auto_picks_numba_on_cpu_and_the_environment_overrides(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("SNNREPRO_RELPSP_KERNEL", raising=False)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_kernel("auto", cpu) == "numba" and resolve_kernel("auto", cuda) == "torch"
    assert resolve_kernel("torch", cpu) == "torch" and resolve_kernel("numba", cpu) == "numba"
    with pytest.raises(ValueError, match="CPU tensors only"):
        resolve_kernel("numba", cuda)
    with pytest.raises(ValueError, match="kernel must be one of"):
        resolve_kernel("fast", cpu)
    monkeypatch.setenv("SNNREPRO_RELPSP_KERNEL", "torch")
    assert resolve_kernel("auto", cpu) == "torch" and resolve_kernel("numba", cpu) == "numba"
    monkeypatch.setenv("SNNREPRO_RELPSP_KERNEL", "numpy")
    with pytest.raises(ValueError, match="SNNREPRO_RELPSP_KERNEL must be torch or numba"):
        resolve_kernel("auto", cpu)


def test_layers_and_models_call_the_chosen_kernel(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("SNNREPRO_RELPSP_KERNEL", raising=False)
    calls: list[str] = []
    real = kernel_numba.first_spike_times_numba

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append("numba")
        return real(*args, **kwargs)

    monkeypatch.setattr(kernel_numba, "first_spike_times_numba", spy)
    t = torch.rand(4, 8)
    RelPspDense(8, 3)(t)
    assert calls == ["numba"]  # auto on a CPU tensor
    RelPspDense(8, 3, kernel="torch")(t)
    assert calls == ["numba"]
    net = build("784-20-10", (1, 28, 28), 10, kernel="torch", mean=5.0)
    net(torch.rand(2, 1, 28, 28))
    assert calls == ["numba"]
    net = build("8x8-2C3-10", (1, 8, 8), 10, mean=5.0)
    net(torch.rand(2, 1, 8, 8))
    assert calls == ["numba", "numba", "numba"]  # auto: the conv and the dense layer
    with pytest.raises(ValueError, match="kernel must be one of"):
        RelPspDense(8, 3, kernel="cuda")
    with pytest.raises(TypeError, match="unexpected keyword argument 'kernal'"):
        build("784-20-10", (1, 28, 28), 10, kernal="torch")


def test_refuses_what_it_cannot_run() -> None:
    with pytest.raises(ValueError, match="expected times"):
        first_spike_times_numba(torch.rand(2, 3), torch.rand(4, 2))
    with pytest.raises(ValueError, match="float32 or float64"):
        first_spike_times_numba(torch.rand(2, 3), torch.rand(3, 2).half())
