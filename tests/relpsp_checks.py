"""Shared check of the STDBP tests: a ReL-PSP layer against its full-tensor reference version."""

from __future__ import annotations

import torch
from torch import nn


def assert_layer_matches_reference(fast: nn.Module, ref: nn.Module, t: torch.Tensor, t_max: float) -> None:
    """``fast`` (with ``ref``'s weights loaded) gives ``ref``'s spike times on ``t`` (some neurons firing, some
    silent) and the same gradients w.r.t. the weights and input times, in float64 to rounding."""
    ref.load_state_dict(fast.state_dict())
    t1, t2 = t.clone().requires_grad_(), t.clone().requires_grad_()
    o1, o2 = fast(t1), ref(t2)
    torch.testing.assert_close(o1, o2, rtol=1e-12, atol=1e-12)
    assert bool((o1 < t_max).any()) and bool((o1 == t_max).any())
    up = torch.randn_like(o1)
    (o1 * up).sum().backward()
    (o2 * up).sum().backward()
    torch.testing.assert_close(fast.weight.grad, ref.weight.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(t1.grad, t2.grad, rtol=1e-10, atol=1e-12)
