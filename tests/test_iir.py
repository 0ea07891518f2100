"""IIR-filter SNN (Fang et al. 2020): filter impulse responses vs closed forms, gradients vs finite
differences and the exact coefficient recursion, equality with the LIF core, Eq. 8 readout, data, encoder."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from scipy.signal import lfilter

from snnrepro.data.synthetic.assoc_patterns import AssocPatternsSource, make_patterns
from snnrepro.encoders.lif_current import LIFCurrentEncoder
from snnrepro.losses.van_rossum import trace_filter, van_rossum_distance
from snnrepro.models.arch import ArchError
from snnrepro.models.iir import IIRLayer, build
from snnrepro.models.iir_readout import PatternMemoryReadout
from snnrepro.neurons.iir import (
    SynapseFilter,
    alpha_kernel,
    dual_exp_kernel,
    iir_neuron,
    is_soft_reset_lif,
    poly_from_poles,
    preset_coefficients,
)
from snnrepro.neurons.iir.kernel import _NeuronFn
from snnrepro.neurons.lif import lif_multistep
from snnrepro.neurons.surrogate import Gaussian
from snnrepro.registry import LOSSES

STEPS = 40


def _impulse(preset: str, kernel_param: str = "direct", **kw: float) -> torch.Tensor:
    a, b = preset_coefficients(preset, **kw)
    f = SynapseFilter((3,), a, b, kernel_param=kernel_param).double()
    return f.impulse_response(STEPS)[:, 0]


@pytest.mark.parametrize("kernel_param", ["direct", "poles"])
@pytest.mark.parametrize("delay", [1, 0])
@pytest.mark.parametrize(("tau_m", "tau_s"), [(4.0, 1.0), (8.0, 2.0)])
def test_dual_exp_impulse_response_is_sampled_kernel(kernel_param: str, delay: int, tau_m: float, tau_s: float) -> None:
    """Eq. 4c: F[t] = k(t + 1 - d) with k(t) = e^{-t/tau_m} - e^{-t/tau_s} (section 2, without normaliser)."""
    got = _impulse("dual_exp", kernel_param, tau_m=tau_m, tau_s=tau_s, delay=delay)
    t = torch.arange(STEPS, dtype=torch.float64) + 1 - delay
    assert torch.allclose(got, dual_exp_kernel(t, tau_m, tau_s), atol=1e-6)


@pytest.mark.parametrize("kernel_param", ["direct", "poles"])
@pytest.mark.parametrize("delay", [1, 0])
@pytest.mark.parametrize("tau", [2.0, 5.0])
def test_alpha_impulse_response_is_sampled_kernel(kernel_param: str, delay: int, tau: float) -> None:
    """alpha_1 = 2e^{-1/tau}, alpha_2 = -e^{-2/tau}, beta_1 = e^{-1/tau}/tau -> (t/tau) e^{-t/tau}."""
    got = _impulse("alpha", kernel_param, tau=tau, delay=delay)
    t = torch.arange(STEPS, dtype=torch.float64) + 1 - delay
    assert torch.allclose(got, alpha_kernel(t, tau), atol=1e-6)
    peak = int(got.argmax()) + 1 - delay
    assert peak == round(tau)  # the alpha kernel peaks at t = tau (value 1/e)


def test_lif_preset_has_no_filter_and_custom_filter_matches_lfilter() -> None:
    x = (torch.rand(STEPS, 2, 5, dtype=torch.float64) < 0.3).double()
    a, b = preset_coefficients("lif")
    assert (a, b) == ([], [1.0])
    f = SynapseFilter((5,), a, b).double()
    assert torch.equal(f(x), x)
    # a general P = 3, Q = 2 filter against scipy's direct-form IIR: y = lfilter(b, [1, -a1, -a2, -a3], x)
    alpha, beta = [0.5, 0.2, -0.1], [0.3, -0.2, 0.4]
    f = SynapseFilter((5,), *preset_coefficients("custom", alpha=alpha, beta=beta)).double()
    ref = lfilter(beta, [1.0] + [-v for v in alpha], x.numpy(), axis=0)
    assert torch.allclose(f(x), torch.from_numpy(ref), atol=1e-12)


def test_pole_parametrisation_reproduces_preset_coefficients() -> None:
    for preset, kw in (("dual_exp", {"tau_m": 4.0, "tau_s": 1.0}), ("alpha", {"tau": 3.0})):
        a, b = preset_coefficients(preset, **kw)
        f = SynapseFilter((2,), a, b, kernel_param="poles").double()
        assert torch.allclose(f.alpha[:, 0], torch.tensor(a, dtype=torch.float64), atol=1e-6)
    z = torch.tensor([[0.9], [0.5], [0.2]], dtype=torch.float64)
    # (1 - 0.9q)(1 - 0.5q)(1 - 0.2q) = 1 - 1.6q + 0.73q^2 - 0.09q^3 -> alpha = [1.6, -0.73, 0.09]
    assert torch.allclose(poly_from_poles(z)[:, 0], torch.tensor([1.6, -0.73, 0.09], dtype=torch.float64))
    with pytest.raises(ValueError, match="real poles"):
        SynapseFilter((2,), [0.5, -0.9], [1.0], kernel_param="poles")


def test_neuron_reset_filter_and_adaptive_threshold() -> None:
    """Eq. 5a/5c with constant drive: every spike adds a decaying reset, so inter-spike gaps grow."""
    cur = torch.full((60, 1, 1), 0.6, dtype=torch.float64)
    theta = math.exp(-1 / 8)
    o, v = iir_neuron(cur, lam=0.9, theta=theta, v_th=1.0, return_membrane=True)
    # reference loop written from the equations
    vv, r, prev = 0.0, 0.0, 0.0
    for t in range(60):
        r = theta * r + prev
        vv = 0.9 * vv + 0.6 - r
        prev = 1.0 if vv >= 1.0 else 0.0
        assert o[t, 0, 0] == prev and abs(v[t, 0, 0] - vv) < 1e-12
    times = o[:, 0, 0].nonzero().flatten()
    gaps = times.diff()
    assert len(times) >= 3 and gaps[-1] > gaps[0]


class _SmoothErfc(Gaussian):
    """Eq. 18's spike probability P(v) as the forward too, so the network is differentiable everywhere."""

    def spike(self, v: torch.Tensor) -> torch.Tensor:
        return self.primitive(v)


def _small_net(kernel_param: str, backend: str = "fused", smooth: bool = True) -> torch.nn.Module:
    torch.manual_seed(3)
    net = build(
        "6-5-3", (6,), 3, preset="dual_exp", tau_m=4.0, tau_s=1.0, lam=0.5, weight_gain=4.0,
        kernel_param=kernel_param, backend=backend,
    ).double()
    for layer in net.stages:
        if isinstance(layer, IIRLayer) and smooth:
            layer.neuron.surrogate = _SmoothErfc(sigma=0.4)
            layer.neuron.backend = "autograd"  # the smooth forward lives in the surrogate's spike()
    return net


@pytest.mark.parametrize("backend", ["fused", "autograd"])
@pytest.mark.parametrize("kernel_param", ["direct", "poles"])
def test_gradients_match_finite_differences_on_smooth_path(kernel_param: str, backend: str) -> None:
    """Eq. 14-17 by BPTT vs central differences (float64) for weights and alpha/beta (or pole logits).

    Compared: d(loss)/d(theta) where the Heaviside of Eq. 5f is replaced by the erfc spike probability
    P(v) of Eq. 18 in the forward pass as well, i.e. exactly the function whose derivative the surrogate
    (Eq. 19) uses; the time recursion, the reset path (Eq. 11-12) and the filter recursion are the model's own.
    """
    net = _small_net(kernel_param, backend)
    x = (torch.rand(8, 2, 6, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    y = torch.tensor([0, 2])

    def loss() -> torch.Tensor:
        return F.cross_entropy(net(x), y)

    params = {n: p for n, p in net.named_parameters() if p.requires_grad}
    assert any("beta" in n for n in params) and any(("alpha" in n or "pole" in n) for n in params)
    net.zero_grad()
    loss().backward()
    eps = 1e-6
    for name, p in params.items():
        flat = p.data.view(-1)
        idx = torch.randperm(flat.numel(), generator=torch.Generator().manual_seed(0))[:6]
        for i in idx.tolist():
            old = float(flat[i])
            flat[i] = old + eps
            with torch.no_grad():
                up = float(loss())
                flat[i] = old - eps
                down = float(loss())
            flat[i] = old
            fd = (up - down) / (2 * eps)
            assert abs(float(p.grad.view(-1)[i]) - fd) < 1e-6 + 1e-5 * abs(fd), (name, i, fd)


@pytest.mark.parametrize("detach_reset", [False, True])
def test_fused_backend_equals_autograd_reference(detach_reset: bool) -> None:
    """Fused filter + neuron (adjoint backward) == step-by-step autograd: spikes and every gradient."""
    x = (torch.rand(12, 3, 6, generator=torch.Generator().manual_seed(2)) < 0.5).double()
    y = torch.tensor([0, 1, 2])
    grads, outs = [], []
    for backend in ("fused", "autograd"):
        net = _small_net("direct", backend, smooth=False)
        for layer in net.stages:
            if isinstance(layer, IIRLayer):
                layer.neuron.detach_reset = detach_reset
        out = net(x)
        F.cross_entropy(out, y).backward()
        outs.append(out)
        grads.append({n: p.grad.clone() for n, p in net.named_parameters()})
    assert outs[0].sum() > 0 and torch.equal(outs[0], outs[1])
    for name, g in grads[0].items():
        assert torch.allclose(g, grads[1][name], atol=1e-12), name


@pytest.mark.parametrize("backend", ["fused", "autograd"])
def test_coefficient_gradient_equals_exact_recursion(backend: str) -> None:
    """dI/d alpha_p, dI/d beta_q: autograd vs forward sensitivities dF[t]/dc = direct term + sum_r alpha_r dF[t-r]/dc.

    The paper's Eq. 16-17 are the first two terms of this recursion; autograd gives the exact sum.
    """
    torch.manual_seed(0)
    a, b = [1.2, -0.35], [0.1, 0.4]
    f = SynapseFilter((1,), a, b, backend=backend).double()
    x = (torch.rand(30, 1, 1) < 0.4).double()
    g = torch.randn(30, 1, 1, dtype=torch.float64)  # dL/dF[t]
    (f(x) * g).sum().backward()
    with torch.no_grad():
        F_ = f(x)[:, 0, 0]
    xs = x[:, 0, 0]
    a = f.alpha_direct.detach()[:, 0].tolist()  # the float32-initialised values actually used
    steps = len(xs)
    for kind, n in (("alpha", 2), ("beta", 2)):
        for k in range(n):
            s = torch.zeros(steps, dtype=torch.float64)
            for t in range(steps):
                direct = 0.0
                if kind == "alpha" and t - (k + 1) >= 0:
                    direct = F_[t - k - 1]
                if kind == "beta" and t - k >= 0:
                    direct = xs[t - k]
                s[t] = direct + sum(a[r] * s[t - r - 1] for r in range(2) if t - r - 1 >= 0)
            want = float((s * g[:, 0, 0]).sum())
            got = float((f.alpha_direct.grad if kind == "alpha" else f.beta.grad)[k, 0])
            assert abs(got - want) < 1e-10


@pytest.mark.parametrize("backend", ["autograd", "fused", "iir_fn"])
@pytest.mark.parametrize("lam", [1.0, 0.8])
def test_lif_preset_equals_lif_core_spikes_and_gradients(lam: float, backend: str) -> None:
    """No synapse filter, theta = 0, reset impulse lam * V_th: Eq. 5 is the core's soft-reset LIF exactly.

    ``autograd``: the step-by-step IIR recursion; ``iir_fn``: the IIR family's own fused Function
    (adjoint backward of Eq. 9-12); ``fused``: what the layer runs (dispatched to the LIF core's Function).
    """
    torch.manual_seed(0)
    w = torch.randn(7, 4, dtype=torch.float64) * 0.8
    x = (torch.rand(25, 3, 7) < 0.5).double()
    be = "autograd" if backend == "autograd" else "fused"
    net = build("7-4", (7,), 4, preset="lif", lam=lam, theta=0.0, reset_scale=lam, v_th=1.0, sigma=0.4,
                backend=be).double()
    layer = net.stages[0]
    layer.weights.op.weight.data.copy_(w.T)
    assert is_soft_reset_lif(lam, 0.0, 1.0, lam) and not is_soft_reset_lif(lam, 0.1, 1.0, lam)
    if backend == "iir_fn":
        cur = layer.current(x)
        out_iir = _NeuronFn.apply(cur, lam, 0.0, 1.0, lam, layer.neuron.surrogate, False)
    else:
        out_iir = layer(x)
    w2 = w.clone().requires_grad_(True)
    out_lif = lif_multistep(
        x @ w2, decay=lam, threshold=1.0, reset="soft", surrogate={"name": "gaussian", "sigma": 0.4}, backend="fused"
    )
    assert out_iir.sum() > 10 and torch.equal(out_iir, out_lif)
    g = torch.randn_like(out_lif)
    (out_iir * g).sum().backward()
    (out_lif * g).sum().backward()
    assert torch.allclose(layer.weights.op.weight.grad, w2.grad.T, atol=1e-10)


def test_model_shapes_and_errors() -> None:
    net = build("64C3-P2-32C3-32C3-P2-256-10", (4, 2, 34, 34), 10, input_time_axis=0)
    assert net(torch.zeros(3, 2, 2, 34, 34)).shape == (2, 10)
    net = build("300-300-11", (1, 20, 90), 11, input_time_axis=-1)
    assert net(torch.zeros(5, 2, 1, 20)).shape == (2, 11)
    with pytest.raises(ArchError, match="classes"):
        build("300-300-12", (1, 20, 90), 11, input_time_axis=-1)
    with pytest.raises(ArchError, match="tau_m > tau_s"):
        build("784-10", (1, 28, 28), 10, tau_m=1.0, tau_s=2.0)
    with pytest.raises(ValueError, match=r"\[T, B, 1, 28, 28\]"):
        build("784-10", (1, 28, 28), 10)(torch.zeros(2, 1, 28, 28))
    frozen = build("784-10", (1, 28, 28), 10, train_kernel=False)
    assert not any(p.requires_grad for n, p in frozen.named_parameters() if "synapse" in n)


def test_van_rossum_readout_is_eq8_and_loss_picks_own_pattern() -> None:
    torch.manual_seed(0)
    head = PatternMemoryReadout(num_patterns=4, n_trains=6, steps=30, target_delay=2)
    out = (torch.rand(30, 5, 6) < 0.1).float()
    scores = head(out)
    k = trace_filter(6)
    # Eq. 8 by hand: traces by an explicit sum over the unit-peak kernel sampled at t + 1 (delay 0), float64
    t = torch.arange(30, dtype=torch.float64)
    kk = (torch.exp(-(t + 1) / 8) - torch.exp(-(t + 1) / 2)) * 4 ** (4 / 3) / 3

    def trace(s: torch.Tensor) -> torch.Tensor:  # [T, B, N]
        s = s.double()
        return torch.stack([(kk[: i + 1].flip(0)[:, None, None] * s[: i + 1]).sum(0) for i in range(30)])

    for j in range(4):
        tgt = head.targets[:, j : j + 1].expand(-1, 5, -1)
        want = van_rossum_distance(out, tgt, k)
        assert torch.allclose(-scores[:, j], want, atol=1e-4)
        by_hand = (trace(out) - trace(tgt)).pow(2).sum((0, 2)) / (2 * 30)
        torch.testing.assert_close(-scores[:, j].double(), by_hand, rtol=1e-5, atol=1e-5)
    assert (-scores).min() > 0  # no output equals a stored pattern: every distance is a real check
    y = torch.tensor([0, 1, 2, 3, 0])
    assert torch.allclose(LOSSES.get("van_rossum")()(scores, y), -scores[torch.arange(5), y].mean())
    # the stored target is the dataset's clean pattern delayed by target_delay
    pats = make_patterns(4, 6, 30)
    assert torch.equal(head.targets[2:, 1], pats[1, :-2])


def test_assoc_dataset_is_deterministic_and_noisy() -> None:
    src = AssocPatternsSource()
    assert src.shape() == ((300, 300), 10)
    b = src.load(None, False, train_size=30, test_size=10, n_trains=50, steps=60)
    x1, y1 = b.train[13]
    x2, y2 = b.train[13]
    assert torch.equal(x1, x2) and y1 == y2 == 3 and x1.shape == (60, 50)
    clean = make_patterns(10, 50, 60)[3]
    assert not torch.equal(x1, clean) and set(x1.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="unknown parameter"):
        src.shape(bogus=1)


def test_shape_patterns_follow_the_lattice() -> None:
    """``kind: shapes``: spikes only on the authors' sampling lattice, inside a region of the asked coverage."""
    from snnrepro.data.synthetic.assoc_patterns import lattice_mask

    lat = lattice_mask(31, 7, period_t=5, period_n=3)
    # brute force: step t = 5c carries trains r with r = c (mod 3)
    want = torch.zeros(31, 7)
    for t in range(0, 31, 5):
        for r in range(7):
            want[t, r] = float((r - t // 5) % 3 == 0)
    assert torch.equal(lat, want)
    pats = make_patterns(4, 60, 90, pattern_seed=3, kind="shapes", coverage=0.3)
    assert pats.shape == (4, 90, 60) and torch.equal(pats * lattice_mask(90, 60, 5, 3), pats)
    on_lattice = lattice_mask(90, 60, 5, 3).sum()
    assert torch.allclose(pats.sum((1, 2)) / on_lattice, torch.full((4,), 0.3), atol=0.05)
    assert torch.equal(pats, make_patterns(4, 60, 90, pattern_seed=3, kind="shapes"))
    assert not torch.equal(pats[0], pats[1])
    b = AssocPatternsSource().load(None, False, train_size=4, test_size=2, n_trains=60, steps=90, kind="shapes",
                                   num_patterns=4, pattern_seed=3, p_modify=0.0, background=0.0)
    assert torch.equal(b.train[2][0], pats[2])  # no noise: the sample is the clean pattern
    head = PatternMemoryReadout(4, 60, 90, pattern_seed=3, kind="shapes", target_delay=2)
    assert torch.equal(head.targets[2:].transpose(0, 1), pats[:, :-2])
    from torch.utils.data import Subset

    from snnrepro.analyses.assoc_memory import _check_same_patterns

    _check_same_patterns(Subset(b.train, [0, 1]), head.targets, 2)  # same patterns: passes
    other = PatternMemoryReadout(4, 60, 90, pattern_seed=3, target_delay=2)  # bernoulli: not the dataset's
    with pytest.raises(ValueError, match="same pattern parameters"):
        _check_same_patterns(Subset(b.train, [0, 1]), other.targets, 2)
    with pytest.raises(ValueError, match="kind"):
        make_patterns(kind="images")


def test_lif_current_encoder() -> None:
    enc = LIFCurrentEncoder(tau=4.0, gain=1.0)
    x = torch.stack([torch.linspace(-3, 5, 90), torch.full((90,), 2.0), torch.linspace(5, -3, 90)])[None, None]
    s = enc(x)  # [90, 1, 1, 3]
    assert s.shape == (90, 1, 1, 3) and set(s.unique().tolist()) <= {0.0, 1.0}
    first, last = s[:30, 0, 0, 0].sum(), s[-30:, 0, 0, 0].sum()
    assert last > first  # rising feature -> rising rate
    assert s[:, 0, 0, 1].sum() == 0  # a constant feature normalises to 0 current
    # closed form for a constant current c: V after n quiet steps = c (1 - lam^n) / (1 - lam)
    raw = LIFCurrentEncoder(tau=4.0, gain=0.5, normalize="none")(torch.ones(1, 1, 10))
    lam = math.exp(-1 / 4)
    n_first = next(n for n in range(1, 20) if 0.5 * (1 - lam**n) / (1 - lam) >= 1.0)
    assert int(raw[:, 0, 0].nonzero()[0]) == n_first - 1


def _assoc_metrics_by_numpy(model: torch.nn.Module, initial: dict, dataset) -> dict[str, float]:
    """The ``assoc_memory`` metrics written out again in NumPy from the model's output spikes, sample by sample.

    Eq. 8 with the kernel k(t) = (e^{-t/8} - e^{-t/2}) * 4^{4/3}/3 (unit peak) sampled at t + 1 (delay 0) as an
    explicit convolution matrix; targets delayed by the readout's ``target_delay`` d (the input is compared
    with the clean pattern whose last d steps are cut, as the analysis does); recovery by looking for a spike
    within +-tol steps on the same train; nearest pattern by the smallest distance (a tie counts as wrong).
    """
    import copy

    import numpy as np

    steps, n_pat = 40, 10
    d = model.net.readout.target_delay
    assert d == 4  # the readout default (the authors delay the target by the 4-layer latency)
    pats = make_patterns(n_pat, 300, steps).numpy()  # [K, T, N], the dataset's (and the readout's) patterns
    x = torch.stack([dataset[i][0] for i in range(len(dataset))])  # [B, T, N]
    ys = [int(dataset[i][1]) for i in range(len(dataset))]
    before = copy.deepcopy(model)
    before.load_state_dict(initial)
    with torch.no_grad():
        out = model.net.output_spikes(x.transpose(0, 1)).numpy().astype(np.float64)
        init = before.net.output_spikes(x.transpose(0, 1)).numpy().astype(np.float64)
    x = x.numpy().astype(np.float64)
    t = np.arange(steps, dtype=np.float64)
    k = (np.exp(-(t + 1) / 8) - np.exp(-(t + 1) / 2)) * 4 ** (4 / 3) / 3
    conv = np.array([[k[i - j] if j <= i else 0.0 for j in range(steps)] for i in range(steps)])

    def dist(a: np.ndarray, b: np.ndarray) -> float:  # [T, N] each
        return float(((conv @ a - conv @ b) ** 2).sum() / (2 * steps))

    def near(a: np.ndarray, b: np.ndarray, tol: int) -> np.ndarray:  # spikes of a with a spike of b within tol
        hit = np.zeros_like(a)
        for i, j in zip(*np.nonzero(a), strict=True):
            hit[i, j] = b[max(0, i - tol) : i + tol + 1, j].any()
        return hit

    delayed = np.zeros_like(pats)
    delayed[:, d:] = pats[:, : steps - d]
    acc = dict.fromkeys(("d_in", "d_out", "d_init", "d_silent", "near", "tgt", "out", "hit0", "hit2", "hit_o2"), 0.0)
    for b, y in enumerate(ys):
        o, tgt = out[:, b], delayed[y]
        clean = pats[y].copy()
        clean[steps - d :] = 0
        acc["d_in"] += dist(x[b], clean)
        acc["d_out"] += dist(o, tgt)
        acc["d_init"] += dist(init[:, b], tgt)
        acc["d_silent"] += dist(np.zeros_like(tgt), tgt)
        to_all = [dist(o, delayed[j]) for j in range(n_pat)]
        acc["near"] += float(all(to_all[y] < v for j, v in enumerate(to_all) if j != y))
        acc["tgt"] += tgt.sum()
        acc["out"] += o.sum()
        acc["hit0"] += near(tgt, o, 0).sum()
        acc["hit2"] += near(tgt, o, 2).sum()
        acc["hit_o2"] += near(o, tgt, 2).sum()
    n = len(ys)
    return {
        "samples": float(n),
        "distance_input": acc["d_in"] / n,
        "distance_output_initial": acc["d_init"] / n,
        "distance_output": acc["d_out"] / n,
        "distance_silent": acc["d_silent"] / n,
        "recovered_exact": acc["hit0"] / acc["tgt"],
        "recovered_tol2": acc["hit2"] / acc["tgt"],
        "precision_tol2": acc["hit_o2"] / acc["out"],
        "output_spikes_per_target_spike": acc["out"] / acc["tgt"],
        "false_spikes_per_target_spike": (acc["out"] - acc["hit_o2"]) / acc["tgt"],
        "nearest_pattern_acc": acc["near"] / n,
    }


def test_analyses_write_figures_and_metrics(tmp_path) -> None:
    """assoc_memory (Fig. 3-4, Eq. 8 distances, recovery) and iir_kernels (Fig. 5) on a tiny trained-free net."""
    from torch import nn
    from torch.utils.data import DataLoader

    from snnrepro.analyses.assoc_memory import run as assoc_run
    from snnrepro.analyses.assoc_memory import spike_recovery
    from snnrepro.analyses.iir_kernels import run as kernels_run
    from snnrepro.encoders.events import Events

    torch.manual_seed(0)
    b = AssocPatternsSource().load(None, False, train_size=8, test_size=12, steps=40)
    net = build("300-30-300", (40, 300), 10, input_time_axis=0, readout="pattern_distance", weight_gain=7.0)
    model = nn.Sequential()
    model.add_module("encoder", Events())
    model.add_module("net", net)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.net.stages[0].synapse.beta.mul_(1.5)  # a "learned" kernel differs from the initial one
    loader = DataLoader(b.test, batch_size=6)
    m = assoc_run(model, loader, torch.device("cpu"), tmp_path, initial_state=initial)
    want = _assoc_metrics_by_numpy(model, initial, b.test)
    assert set(want) <= set(m)
    for key, value in want.items():
        assert m[key] == pytest.approx(value, rel=1e-4, abs=1e-9), key
    # the case is not degenerate: output spikes, some of them recovered, some false, some noise on the input
    assert 0 < want["recovered_exact"] < want["recovered_tol2"] < 1 and want["false_spikes_per_target_spike"] > 0
    assert 0 < want["distance_input"] and want["distance_output"] != want["distance_silent"]
    assert (tmp_path / "assoc_metrics.json").read_text() == json.dumps(m, indent=1)
    for name in ("fig3_rasters.png", "fig4_hidden_rates.png", "hidden_rates.csv", "assoc_metrics.json"):
        assert (tmp_path / name).stat().st_size > 0
    k = kernels_run(model, loader, torch.device("cpu"), tmp_path, steps=20, initial_state=initial)
    assert k["layer1_rel_change"] == pytest.approx(0.5, rel=1e-5) and k["layer2_rel_change"] < 1e-6
    assert (tmp_path / "fig5_kernels.png").exists()
    # recovery counts: one of two target spikes matched exactly, both within +-1
    out = torch.zeros(10, 1, 1)
    tgt = torch.zeros(10, 1, 1)
    out[3] = out[7] = 1
    tgt[3] = tgt[6] = 1
    assert spike_recovery(out, tgt, 0)[:2] == (1.0, 2.0)
    assert spike_recovery(out, tgt, 1)[:2] == (2.0, 2.0)


def test_bench_ratios_are_the_printed_ms_over_the_printed_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """``snnrepro bench iir``: one reference row, and every ratio equals its row's ms / that row's ms."""
    from snnrepro.benches import iir as bench

    calls = []

    def fake_interleaved_ms(fns: dict, device: torch.device, **kw: int) -> dict[str, float]:
        calls.append(list(fns))
        for fn in fns.values():
            fn()  # each step runs
        return {name: 10.0 + 7.0 * i for i, name in enumerate(fns)}  # distinct, made-up medians

    monkeypatch.setattr(bench, "STEPS", 3)
    monkeypatch.setattr(bench, "BATCH", 4)
    monkeypatch.setattr(bench, "interleaved_ms", fake_interleaved_ms)
    rows = bench.run(torch.device("cpu"), quick=True)
    assert len(calls) == 1 and calls[0] == [r.name for r in rows]  # one round-robin over all four
    ref = rows[0]
    assert ref.reference is None and ref.ratio is None and len(rows) == 4
    assert [r.ms_per_step for r in rows] == [10.0, 17.0, 24.0, 31.0]
    for row in rows[1:]:
        assert row.reference == ref.name and row.ratio == row.ms_per_step / ref.ms_per_step, row
