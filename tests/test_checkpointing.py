"""Activation checkpointing of multi-step networks: same gradients, same BN statistics, less saved memory."""

from __future__ import annotations

import pytest
import torch

from snnrepro.benches.lif import saved_mb
from snnrepro.models.lif import build
from snnrepro.models.multistep import CheckpointedSequential


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


def test_checkpointing_is_off_in_eval_and_no_grad() -> None:
    torch.manual_seed(0)
    net = build("8C3-MP2-10", (1, 8, 8), 10, checkpoint=True).eval()
    x = torch.rand(3, 2, 1, 8, 8)
    with torch.no_grad():
        assert net(x).shape == (2, 10)
