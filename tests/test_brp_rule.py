"""BRP rule (snnrepro.rules.brp): target signals, locality, Eq. 8-9 against closed forms."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from snnrepro.losses.classification import mse_onehot
from snnrepro.models.brp import build
from snnrepro.registry import RULES
from snnrepro.rules.brp import BRP, draw_feedback, find_local_layers, target_signal


def _net(arch: str = "Conv3x3x4-S2-FC12-FC3", shape: tuple[int, ...] = (1, 6, 6), seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Identity(), build(arch, shape, 3))
    with torch.no_grad():  # larger weights than PyTorch's default so that every layer fires in a few steps
        for p in model.parameters():
            p.mul_(3.0)
    return model


def _spikes(shape: tuple[int, ...], p: float = 0.5, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


# --------------------------------------------------------------------------- Eq. 4-7 by hand
def test_target_signals_match_equations_by_hand():
    rates = torch.tensor([[0.20, 0.90, 0.00], [0.50, 0.50, 1.00]])  # y of Eq. 6 (mean output spikes over T)
    target = torch.tensor([1, 0])
    # Eq. 4: the label spike train; per step (and as a rate) the one-hot label
    assert torch.equal(target_signal("brp", rates, target), torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    # Eq. 5-6: y - y_bar with y_bar = one-hot
    expected_err = torch.tensor([[0.20, -0.10, 0.00], [-0.50, 0.50, 1.00]])
    assert torch.allclose(target_signal("err", rates, target), expected_err)
    # Eq. 7: the sign of the error, 0 where the output already equals the label
    assert torch.equal(target_signal("sign", rates, target), torch.tensor([[1.0, -1.0, 0.0], [-1.0, 1.0, 1.0]]))


def test_target_signal_errors():
    with pytest.raises(ValueError, match="signal must be one of"):
        target_signal("reward", torch.zeros(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\[batch, classes\]"):
        target_signal("err", torch.zeros(2, 3, 1), torch.tensor([0, 1]))


def test_rule_rejects_bad_params_and_models():
    model = _net()
    with pytest.raises(ValueError, match="rule.params.signal"):
        BRP(model, mse_onehot(), signal="dopamine")
    with pytest.raises(ValueError, match="rule.params.consolidation"):
        BRP(model, mse_onehot(), consolidation="hebb")
    with pytest.raises(TypeError, match="no module with hidden_shapes"):
        BRP(nn.Sequential(nn.Linear(3, 3)), mse_onehot())
    with pytest.raises(ValueError, match="no hidden layer"):
        BRP(nn.Sequential(build("FC3", (4,), 3)), mse_onehot())


def test_feedback_is_kaiming_uniform_fixed_and_checkpointed():
    model = _net()
    rule = RULES.get("brp")(model, mse_onehot(), feedback_seed=7)
    net = find_local_layers(model)
    b0, b1 = rule.feedback()
    assert b0.shape == (3, 4, 6, 6) and b1.shape == (3, 12)
    bound = (6.0 / 12) ** 0.5
    assert b1.abs().max() <= bound and b1.abs().max() > 0.5 * bound
    assert not any(p is b0 or p is b1 for p in model.parameters())  # buffers, never trained
    state = model.state_dict()
    assert "1.brp_feedback_0" in state and "1.brp_feedback_1" in state
    # a run resumed from the checkpoint uses exactly the saved matrices, whatever its own draw
    other = _net(seed=3)
    rule2 = BRP(other, mse_onehot(), feedback_seed=99)
    assert not torch.equal(rule2.feedback()[1], b1)
    other.load_state_dict(state)
    assert torch.equal(rule2.feedback()[1], b1)
    # an optimizer step leaves B unchanged
    before = [b.clone() for b in rule.feedback()]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    rule.step(_spikes((5, 4, 1, 6, 6)), torch.tensor([0, 1, 2, 0]), opt)
    assert all(torch.equal(a, b) for a, b in zip(before, rule.feedback(), strict=True))
    assert net.brp_feedback_0 is rule.feedback()[0]


def test_draw_feedback_is_seeded():
    a = draw_feedback(10, (5,), torch.Generator().manual_seed(1))
    b = draw_feedback(10, (5,), torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


# --------------------------------------------------------------------------- locality
def _hidden_grads(model: nn.Module, rule_name: str, x: torch.Tensor, y: torch.Tensor, **params) -> list[torch.Tensor]:
    rule = RULES.get(rule_name)(model, mse_onehot(), **params)
    model.zero_grad(set_to_none=True)
    rule.compute_grads(x, y)
    net = find_local_layers(model)
    return [b.weights.weight.grad.clone() for b in net.blocks[:-1]]


def test_hidden_updates_do_not_depend_on_the_output_layer_under_brp():
    x, y = _spikes((6, 5, 1, 6, 6), 0.6), torch.tensor([0, 1, 2, 1, 0])
    a = _net()
    b = copy.deepcopy(a)
    with torch.no_grad():
        b[1].blocks[-1].weights.weight.add_(torch.randn_like(b[1].blocks[-1].weights.weight))
        b[1].blocks[-1].weights.bias.add_(0.3)
    ga = _hidden_grads(a, "brp", x, y, feedback_seed=5)
    gb = _hidden_grads(b, "brp", x, y, feedback_seed=5)
    assert any(g.abs().sum() > 0 for g in ga)  # the hidden layers do learn
    for g1, g2 in zip(ga, gb, strict=True):
        assert torch.equal(g1, g2)
    # the output layer itself sees its own loss: its gradient changes with its weights
    ra, rb = (RULES.get("brp")(m, mse_onehot(), feedback_seed=5) for m in (a, b))
    for r in (ra, rb):
        r.model.zero_grad()
        r.compute_grads(x, y)
    assert not torch.equal(a[1].blocks[-1].weights.weight.grad, b[1].blocks[-1].weights.weight.grad)
    # under end-to-end surrogate BPTT the same perturbation changes the hidden updates
    c, d = copy.deepcopy(a), copy.deepcopy(b)
    gc = _hidden_grads(c, "backprop", x, y)
    gd = _hidden_grads(d, "backprop", x, y)
    assert any(not torch.equal(g1, g2) for g1, g2 in zip(gc, gd, strict=True))


def test_hidden_updates_do_not_depend_on_the_layers_between():
    """Layer 1's update is the same whatever the FC1 weights (no error crosses FC1 to reach conv1)."""
    x, y = _spikes((6, 5, 1, 6, 6), 0.6), torch.tensor([0, 1, 2, 1, 0])
    a = _net()
    b = copy.deepcopy(a)
    with torch.no_grad():
        b[1].blocks[1].weights.weight.mul_(-2.0)
    ga = _hidden_grads(a, "brp", x, y, feedback_seed=5)
    gb = _hidden_grads(b, "brp", x, y, feedback_seed=5)
    assert torch.equal(ga[0], gb[0]) and not torch.equal(ga[1], gb[1])


# --------------------------------------------------------------------------- Eq. 8-9 in closed form (T = 1)
@pytest.mark.parametrize("signal", ["brp", "err", "sign"])
def test_fc_update_equals_closed_form_at_one_step(signal):
    """T = 1, FC hidden layer: dW = (P * 1[|Wx + b - V_th| < w/2]) x^T with P = TP @ B (surrogate height 1/w = 1)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Identity(), build("FC16-FC3", (8,), 3))
    net = model[1]
    with torch.no_grad():  # make the output layer fire for some samples so TP_err is not trivial
        net.blocks[1].weights.weight.uniform_(0.0, 0.3)
    x = _spikes((1, 6, 8), 0.7, seed=3)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    rule = BRP(model, mse_onehot(), signal=signal, feedback_seed=11)
    model.zero_grad()
    _, scores = rule.compute_grads(x, y)
    w, b = net.blocks[0].weights.weight, net.blocks[0].weights.bias
    u = x[0] @ w.detach().T + b.detach()
    window = ((u - 0.5).abs() < 0.5).float()
    onehot = torch.nn.functional.one_hot(y, 3).float()
    tp = {"brp": onehot, "err": scores - onehot, "sign": torch.sign(scores - onehot)}[signal]
    p = tp @ rule.feedback()[0]
    delta = p * window
    assert torch.allclose(w.grad, delta.T @ x[0], atol=1e-6)
    assert torch.allclose(b.grad, delta.sum(0), atol=1e-6)


def test_difference_consolidation_is_the_local_rate_mse():
    """consolidation=difference: hidden gradients = autograd of 1/2 ||mean_t h - TP @ B||^2 inside each layer."""
    model = _net()
    x, y = _spikes((4, 5, 1, 6, 6), 0.6), torch.tensor([0, 1, 2, 1, 0])
    rule = BRP(model, mse_onehot(), consolidation="difference", feedback_seed=2)
    model.zero_grad()
    rule.compute_grads(x, y)
    got = [p.grad.clone() for p in model.parameters()]
    # reference: one local loss per layer, each on its own detached input
    ref_model = copy.deepcopy(model)
    ref_model.zero_grad()
    net = ref_model[1]
    onehot = torch.nn.functional.one_hot(y, 3).float()
    with net.record_hidden(detach_inputs=True) as hs:
        scores = ref_model(x)
    total = mse_onehot()(scores, y)
    for h, bmat in zip(hs, rule.feedback(), strict=True):
        target = (onehot @ bmat.flatten(1)).view(h.shape[1:])
        total = total + 0.5 * ((h.mean(0) - target) ** 2).sum()
    total.backward()
    for g, p in zip(got, ref_model.parameters(), strict=True):
        assert torch.allclose(g, p.grad, atol=1e-6)
