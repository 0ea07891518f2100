"""LIF core: surrogates, forward dynamics, fused backward vs autograd, BPSA/BPTA vs Eq. 6-10 by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from snnrepro.neurons.lif import GRADIENT_MODES, LIF, LIFConfig, lif_multistep
from snnrepro.neurons.surrogate import SURROGATES, build_surrogate
from snnrepro.registry import SURROGATES as REG


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


# ----------------------------------------------------------------------------- surrogates
@pytest.mark.parametrize("name", ["rectangular", "triangle", "sigmoid", "atan", "fast_sigmoid", "gaussian"])
def test_surrogate_grad_is_derivative_of_primitive(name: str) -> None:
    sg = build_surrogate(name)
    # avoid the kinks of rectangular/triangle/fast_sigmoid
    v = torch.linspace(-2.0, 2.0, 401, dtype=torch.float64)
    v = v[(v.abs() - 0.5).abs() > 1e-3]
    v = v[(v.abs() - 1.0).abs() > 1e-3]
    v = v[v.abs() > 1e-3]
    eps = 1e-6
    fd = (sg.primitive(v + eps) - sg.primitive(v - eps)) / (2 * eps)
    torch.testing.assert_close(sg.grad(v), fd, atol=1e-5, rtol=1e-5)
    # the primitive is a smoothed step: it increases through the threshold
    assert sg.primitive(torch.tensor(1.5)) > sg.primitive(torch.tensor(-1.5))


@pytest.mark.parametrize("name", ["rectangular", "sigmoid", "atan", "gaussian"])
def test_surrogate_spike_forward_heaviside_backward_grad(name: str) -> None:
    sg = build_surrogate(name)
    v = torch.tensor([-1.0, -0.2, 0.0, 0.3, 2.0], requires_grad=True)
    o = sg.spike(v)
    assert o.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    o.sum().backward()
    torch.testing.assert_close(v.grad, sg.grad(v.detach()))


def test_surrogate_closed_forms() -> None:
    rect = build_surrogate({"name": "rectangular", "width": 0.5})
    assert rect.grad(torch.tensor([0.2, 0.26, -0.24])).tolist() == [2.0, 0.0, 2.0]
    gauss = build_surrogate({"name": "gaussian", "params": {"sigma": 0.4}})
    torch.testing.assert_close(gauss.grad(torch.tensor(0.0)), torch.tensor(1 / (np.sqrt(2 * np.pi) * 0.4)))
    # erfc spike probability (IIR Eq. 18) equals the normal CDF
    torch.testing.assert_close(gauss.primitive(torch.tensor(0.4)), torch.tensor(0.8413447460685429))
    assert set(REG.names()) >= {"rectangular", "sigmoid", "atan", "gaussian"}
    assert SURROGATES is REG


def test_surrogate_bad_input() -> None:
    with pytest.raises(ValueError, match="width"):
        build_surrogate({"name": "rectangular", "width": 0})
    with pytest.raises(KeyError, match="unknown surrogate"):
        build_surrogate("nope")
    with pytest.raises(ValueError, match="bad parameters"):
        build_surrogate({"name": "sigmoid", "width": 1.0})


# ----------------------------------------------------------------------------- forward
def _numpy_lif(x: np.ndarray, lam: float, theta: float, reset: str, vr: float, refr: int) -> np.ndarray:
    """Element-by-element simulation with explicit state, the module docstring's equations."""
    out = np.zeros_like(x)
    for idx in np.ndindex(*x.shape[1:]):
        u = vr if reset == "hard" else 0.0
        last = -10**9
        for t in range(x.shape[0]):
            if t - last <= refr:
                h = u  # refractory: frozen
                o = 0.0
            else:
                h = lam * u + x[(t, *idx)]
                o = 1.0 if h >= theta else 0.0
            if o:
                last = t
            u = (vr if o else h) if reset == "hard" else (h - theta * o if reset == "soft" else h)
            out[(t, *idx)] = o
    return out


@pytest.mark.parametrize(
    "reset,vr,refr,backend",
    [("hard", 0.0, 0, "fused"), ("hard", -0.3, 2, "fused"), ("soft", 0.0, 1, "fused"), ("none", 0.0, 0, "fused"),
     ("hard", -0.3, 2, "autograd"), ("soft", 0.0, 1, "autograd")],
)
def test_forward_matches_elementwise_simulation(reset: str, vr: float, refr: int, backend: str) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(12, 3, 5, generator=g) * 0.8
    o = lif_multistep(x, decay=0.7, threshold=0.5, reset=reset, v_reset=vr, refractory=refr, backend=backend)
    assert o.shape == x.shape
    np.testing.assert_array_equal(o.numpy(), _numpy_lif(x.numpy(), 0.7, 0.5, reset, vr, refr))


def test_refractory_blocks_firing_and_bpsa_forward_is_binary() -> None:
    x = torch.full((8, 1), 1.0)
    o = lif_multistep(x, decay=0.2, threshold=0.5, refractory=1)
    assert o.flatten().tolist() == [1, 0, 1, 0, 1, 0, 1, 0]
    for mode in GRADIENT_MODES.values():
        ob = lif_multistep(torch.rand(6, 4, 3) * 1.5, **mode)
        assert set(ob.unique().tolist()) <= {0.0, 1.0}


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="reset"):
        LIFConfig(reset="sideways")
    with pytest.raises(ValueError, match="adjust"):
        LIFConfig(adjust="magic")
    with pytest.raises(ValueError, match="positive threshold"):
        LIFConfig(adjust="bpsa", threshold=0.0)
    with pytest.raises(ValueError, match="decay"):
        LIFConfig(decay=1.5)
    with pytest.raises(ValueError, match="refractory"):
        LIFConfig(refractory=-1)
    with pytest.raises(ValueError, match=r"\[T, B"):
        lif_multistep(torch.ones(3))


# ----------------------------------------------------------------------------- gradients
def _grads(backend: str, x: torch.Tensor, w: torch.Tensor, gout: torch.Tensor, **kw):
    x = x.clone().requires_grad_(True)
    w = w.clone().requires_grad_(True)
    cur = torch.einsum("tbi,oi->tbo", x, w)
    o = lif_multistep(cur, backend=backend, **kw)
    (o * gout).sum().backward()
    return o.detach(), x.grad, w.grad


def _inputs(seed: int, steps: int = 10, batch: int = 4, nin: int = 6, nout: int = 5):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(steps, batch, nin, generator=g) < 0.5).double()
    w = torch.randn(nout, nin, generator=g) * 0.5
    gout = torch.randn(steps, batch, nout, generator=g)
    return x, w, gout


COMBOS = list(
    itertools.product(
        ["rectangular", "sigmoid", "gaussian"],
        [("hard", 0.0), ("hard", -0.2), ("soft", 0.0), ("none", 0.0)],
        [False, True],
        [0, 2],
        ["none", "bpsa", "bpta", "bpsa_bpta"],
    )
)


@pytest.mark.parametrize("sg,reset,detach,refr,adjust", COMBOS[::3] + [COMBOS[-1], COMBOS[0]])
def test_fused_backward_equals_autograd(sg, reset, detach, refr, adjust) -> None:
    x, w, gout = _inputs(len(sg) + refr)
    kw = dict(decay=0.8, threshold=0.5, reset=reset[0], v_reset=reset[1], detach_reset=detach, refractory=refr,
              surrogate=sg, adjust=adjust, alpha=0.3)
    o1, gx1, gw1 = _grads("fused", x, w, gout, **kw)
    o2, gx2, gw2 = _grads("autograd", x, w, gout, **kw)
    assert o1.sum() > 0 and (o1 == 0).any()
    torch.testing.assert_close(o1, o2)
    torch.testing.assert_close(gx1, gx2)
    torch.testing.assert_close(gw1, gw2)


def _paper_reference(x, w, gout, lam, theta, alpha, mode):
    """Eq. 4 forward and Eq. 6-10 backward written out with numpy, one neuron at a time.

    mode "baseline": g' = rectangular(width 1) at theta; reset u = lam h (1 - o) differentiated (SGLIFNode).
    mode "bpsa": g' = 1/h where fired (Eq. 9); d h_{t+1} / d h_t = lam (1 - o_t).
    mode "bpsa_bpta": Eq. 10, d h_{t+1} / d h_t = lam [(1 - o_t) + alpha g'(h_t)].
    """
    x, w, gout = x.numpy(), w.numpy(), gout.numpy()
    steps, batch, _ = x.shape
    nout = w.shape[0]
    cur = np.einsum("tbi,oi->tbo", x, w)
    gw = np.zeros_like(w)
    spikes = np.zeros((steps, batch, nout))
    for b in range(batch):
        for i in range(nout):
            h = np.zeros(steps)
            o = np.zeros(steps)
            u = 0.0
            for t in range(steps):  # Eq. 4
                h[t] = lam * u + cur[t, b, i]
                o[t] = 1.0 if h[t] >= theta else 0.0
                u = 0.0 if o[t] else h[t]
            spikes[:, b, i] = o
            gprime = np.where(np.abs(h - theta) < 0.5, 1.0, 0.0) if mode == "baseline" else np.where(o > 0, 1 / h, 0)
            e = np.zeros(steps)  # e_t = dL/dh_t
            for t in range(steps - 1, -1, -1):
                e[t] = gout[t, b, i] * gprime[t]  # spatial term of Eq. 7 through g'
                if t + 1 < steps:
                    if mode == "baseline":
                        temporal = lam * ((1 - o[t]) - h[t] * gprime[t])
                    elif mode == "bpsa":
                        temporal = lam * (1 - o[t])
                    else:
                        temporal = lam * ((1 - o[t]) + alpha * gprime[t])  # Eq. 10 (without g'(u[t+1]))
                    e[t] += e[t + 1] * temporal
            gw[i] += np.einsum("t,tj->j", e, x[:, b, :])  # Eq. 6: sum_t delta g' o^{l-1}
    return spikes, gw


@pytest.mark.parametrize("mode", ["baseline", "bpsa", "bpsa_bpta"])
def test_paper_modes_match_equations_6_to_10(mode: str) -> None:
    x, w, gout = _inputs(7, steps=12, batch=3, nin=8, nout=4)
    w = w * 1.6
    params = dict(decay=0.9, threshold=0.5, reset="hard", surrogate={"name": "rectangular", "width": 1.0},
                  alpha=0.2, **GRADIENT_MODES[mode])
    ref_o, ref_gw = _paper_reference(x, w, gout, 0.9, 0.5, 0.2, mode)
    assert 0 < ref_o.mean() < 1
    for backend in ("fused", "autograd"):
        o, _, gw = _grads(backend, x, w, gout, **params)
        np.testing.assert_array_equal(o.numpy(), ref_o)
        np.testing.assert_allclose(gw.numpy(), ref_gw, rtol=1e-10, atol=1e-10)


def test_bpsa_zero_gradient_for_silent_neurons() -> None:
    x = torch.tensor([[0.2], [0.1], [0.9], [0.1]], requires_grad=True)
    o = lif_multistep(x, decay=1.0, threshold=0.5, **GRADIENT_MODES["bpsa"])
    assert o.flatten().tolist() == [0, 0, 1, 0]
    o.sum().backward()
    # fired at t=2 with h = 0.2 + 0.1 + 0.9 = 1.2 -> do/dh = 1/1.2 flows to x_0..x_2, nothing from t=3
    torch.testing.assert_close(x.grad.flatten(), torch.tensor([1 / 1.2, 1 / 1.2, 1 / 1.2, 0.0]))


def test_module_and_float32_and_membrane() -> None:
    torch.set_default_dtype(torch.float32)
    layer = LIF(decay=0.5, threshold=1.0, surrogate="atan")
    x = torch.randn(5, 2, 3, 4, 4) * 2
    o = layer(x)
    assert o.dtype == torch.float32 and o.shape == x.shape
    o2, h = lif_multistep(x, config=layer.cfg, return_membrane=True)
    assert torch.equal(o, o2) and torch.equal(o, (h >= 1.0).float())
    assert "atan" in repr(layer)
