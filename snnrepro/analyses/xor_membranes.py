"""Analysis for the RSN XOR rows: the membrane potential of the RSN before and after learning (Fig. 3)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from snnrepro.data.synthetic.xor import XOR_INPUTS
from snnrepro.registry import ANALYSES
from snnrepro.xor import XorResult, amount_of, plot_membranes


@ANALYSES.register("xor_membranes")
def run(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    out_dir: Path,
    mode: str = "absolute",
    initial_state: dict[str, torch.Tensor] | None = None,
) -> dict[str, float]:
    """Write ``xor-<mode>.png`` (membranes for the four inputs, before/after) and ``amounts.json``.

    ``model`` is the engine's ``Sequential(encoder, net)``; ``initial_state`` its parameters before
    training (passed by the engine).  Returns the output amounts after learning per input pattern.
    """
    model = model.cpu().eval()
    enc, net = model.encoder, model.net
    before_net = copy.deepcopy(net)
    prefix = "net."
    before_state = {k[len(prefix) :]: v for k, v in (initial_state or {}).items() if k.startswith(prefix)}
    if before_state:
        before_net.load_state_dict(before_state)
    x = enc(XOR_INPUTS)
    with torch.no_grad():
        before, after = amount_of(before_net, x).tolist(), amount_of(net, x).tolist()
    result = XorResult(mode, net, enc, before, after, state_before=before_state or dict(net.state_dict()))
    plot_membranes(result, Path(out_dir) / f"xor-{mode}.png")
    names = ("FF", "FT", "TF", "TT")
    out = {f"amount_after_{n}": a for n, a in zip(names, after, strict=True)}
    out.update({f"amount_before_{n}": a for n, a in zip(names, before, strict=True)})
    (Path(out_dir) / "amounts.json").write_text(json.dumps(out, indent=1))
    model.to(device)
    return out
