"""The GPU throughput options of ``train.*`` that change how the network runs, not what it computes.

``amp: bf16`` (forward under ``torch.autocast``), ``channels_last`` (model and 4-D inputs in
``torch.channels_last``) and ``compile`` (``torch.compile``) give the module the rule and evaluation
call, the *runner*; the built model itself stays the plain float32 module, so checkpoints, ``state_dict``
and analyses see the same keys and weights as without them.  ``data_on_device`` is
:mod:`snnrepro.engine.device_data`.  What each does and its tolerance: docs/performance.md "GPU options".
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snnrepro.spec import TrainSpec

AMP_DTYPES = {"bf16": torch.bfloat16}


def _float32(out: Any) -> Any:
    """Floating tensors of a forward's output (also inside tuples and lists) back in float32."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() and out.dtype != torch.float32 else out
    if isinstance(out, list | tuple):
        return type(out)(_float32(v) for v in out)
    return out


class FastForward(nn.Module):
    """``module``'s forward with 4-D inputs in ``channels_last`` and/or under bf16 autocast (output in float32).

    The inner module is ``module`` (as in DDP), so what looks through a wrapper by that name (the ``brp``
    rule's :func:`~snnrepro.rules.brp.find_local_layers`) still finds the network.
    """

    def __init__(self, module: nn.Module, device_type: str, amp: str = "none", channels_last: bool = False) -> None:
        super().__init__()
        self.module = module
        self.device_type, self.dtype, self.channels_last = device_type, AMP_DTYPES.get(amp), channels_last

    def forward(self, x: Any) -> Any:
        if self.channels_last and isinstance(x, torch.Tensor) and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.dtype is None:
            return self.module(x)
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.module(x)
        return _float32(out)


def to_memory_format(model: nn.Module, tr: TrainSpec) -> None:
    """``channels_last``: the model's 4-D parameters and buffers in that format (in place, before the optimizer)."""
    if tr.channels_last:
        model.to(memory_format=torch.channels_last)


def runner(trained: nn.Module, tr: TrainSpec, device: torch.device) -> nn.Module:
    """The module training and evaluation call: ``trained`` itself when every option is off."""
    out = trained
    if tr.amp != "none" or tr.channels_last:
        out = FastForward(out, device.type, tr.amp, tr.channels_last)
    if tr.compile:
        out = torch.compile(out)  # type: ignore[assignment]
    return out
