"""Activation checkpointing of multi-step networks: same gradients, same BN statistics, less saved memory."""

from __future__ import annotations

import pytest
import torch

from snnrepro.benches.lif import saved_mb
from snnrepro.models.lif import build
from snnrepro.models.multistep import CheckpointedSequential
from snnrepro.neurons.lif import LIF


@pytest.mark.parametrize(
    ("arch", "shape"),
    [("8C3-MP2-16C3-AP2-32FC-DP-10Voting", (2, 12, 12)), ("resnet18", (3, 8, 8))],
)
def test_checkpointed_network_equals_plain_network(arch: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    plain = build(arch, shape, 10, gradient="bpsa_bpta")
    ckpt = build(arch, shape, 10, gradient="bpsa_bpta", checkpoint=True)
    assert isinstance(ckpt.body, CheckpointedSequential)
    ckpt.load_state_dict(plain.state_dict())  # same children, same keys
    x = (torch.rand(6, 4, *shape) < 0.4).float()
    outs = []
    for net in (plain, ckpt):
        net.train()
        torch.manual_seed(1)  # same dropout masks; the recomputation must repeat them
        out = net(x)
        out.square().sum().backward()
        outs.append(out.detach())
    torch.testing.assert_close(outs[0], outs[1], atol=0, rtol=0)
    grads = [(n, p.grad) for n, p in plain.named_parameters()]
    assert any(g is not None and g.abs().sum() > 0 for _, g in grads)
    for (name, g), p in zip(grads, ckpt.parameters(), strict=True):
        if g is None:
            assert p.grad is None, name
        else:
            torch.testing.assert_close(p.grad, g, atol=1e-6, rtol=1e-5, msg=name)
    # BN running statistics updated once per step, not again by the recomputation
    for (name, b1), b2 in zip(plain.named_buffers(), ckpt.buffers(), strict=True):
        torch.testing.assert_close(b2, b1, atol=0, rtol=0, msg=name)
    # and far less memory saved for backward
    assert saved_mb(ckpt, x) < 0.5 * saved_mb(plain, x)


def test_checkpointing_is_off_in_eval_and_no_grad(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only training with gradients checkpoints: elsewhere no torch checkpoint call, no recomputation, the
    plain network's saved tensors.  Recomputations are counted as extra forward calls of the LIF nodes."""
    import snnrepro.models.multistep as multistep

    checkpoints = 0
    real_checkpoint = multistep.checkpoint

    def counting_checkpoint(*args: object, **kwargs: object) -> torch.Tensor:
        nonlocal checkpoints
        checkpoints += 1
        return real_checkpoint(*args, **kwargs)

    monkeypatch.setattr(multistep, "checkpoint", counting_checkpoint)
    torch.manual_seed(0)
    arch = "8C3-MP2-16C3-10"
    plain = build(arch, (1, 8, 8), 10)
    net = build(arch, (1, 8, 8), 10, checkpoint=True)
    net.load_state_dict(plain.state_dict())
    lifs = [m for m in net.modules() if isinstance(m, LIF)]
    segments = len(net.body.segments())
    assert len(lifs) == 3 and segments == 3
    node_calls = 0

    def count(*_: object) -> None:
        nonlocal node_calls
        node_calls += 1

    for m in lifs:
        m.register_forward_pre_hook(count)  # a pre-hook: the recomputation stops early inside the node
    x = (torch.rand(3, 2, 1, 8, 8) < 0.5).float()
    for training, grad in ((True, True), (False, True), (False, False), (True, False)):
        checkpoints = node_calls = 0
        net.train(training)
        plain.train(training)
        with torch.set_grad_enabled(grad):
            out = net(x)
            ref = plain(x)
            if grad:
                out.sum().backward()
        torch.testing.assert_close(out, ref, atol=0, rtol=0)
        if training and grad:  # the counters see checkpointing where it is on: one recomputation per node
            assert checkpoints == segments and node_calls == 2 * len(lifs)
        else:
            assert checkpoints == 0 and node_calls == len(lifs), (training, grad, checkpoints, node_calls)
    net.eval()
    plain.eval()
    assert saved_mb(net, x) == saved_mb(plain, x) > 0
