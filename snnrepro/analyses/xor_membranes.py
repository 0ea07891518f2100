"""Analysis for the RSN XOR rows: the membrane potential of the RSN before and after learning (Fig. 3).

The rows ``xor-rsn-absolute`` and ``xor-rsn-relative`` train through the engine like every other row
(their specs hold the codes, the models and the learning rates); after training this analysis reads the
output amount ``a`` (Eq. 8-9) of the single RSN for the four patterns before and after learning and
draws the membrane potential (Eq. 6-7) of each, as the paper's Fig. 3.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from snnrepro.data.synthetic.xor import XOR_INPUTS
from snnrepro.encoders.amount_phase import AmountPhase
from snnrepro.models.resonate import ResonateNet
from snnrepro.neurons.resonate import membrane
from snnrepro.registry import ANALYSES


@dataclass
class XorResult:
    """What Fig. 3 shows of one trained XOR neuron: its amounts for (F,F), (F,T), (T,F), (T,T) before and
    after learning, and the parameters before learning (``state_before``) to draw the first panel."""

    mode: str
    model: ResonateNet
    encoder: AmountPhase
    amounts_before: list[float]
    amounts_after: list[float]
    state_before: dict[str, torch.Tensor] = field(default_factory=dict)


def amount_of(net: ResonateNet, x: torch.Tensor) -> torch.Tensor:
    """Output spike amount of the single RSN for encoded inputs ``x`` [B, 2, 2]."""
    z = net.output_spikes(x)
    return torch.hypot(z[0], z[1])[:, 0]


def membrane_traces(
    net: ResonateNet,
    x: torch.Tensor,
    state: dict[str, torch.Tensor] | None = None,
    cycles: float = 3.0,
    steps: int = 600,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Simulated membrane potential (Eq. 6-7) of the RSN for each input pattern: (t [S], V [B, S])."""
    layer = net.layers[0]
    weight = (state or {}).get("layers.0.weight", layer.weight).detach()[0]
    delay_t = (state or {}).get("layers.0.delay", layer.delay)
    delay = None if delay_t is None else delay_t.detach()[0]
    t = torch.linspace(0.0, cycles * net.period, steps)
    vs = [membrane(x[b, 0], x[b, 1], weight, delay, t, net.period) for b in range(x.shape[0])]
    return t, torch.stack(vs)


def plot_membranes(result: XorResult, path: Path | str) -> Path:
    """PNG of the membrane potential before and after learning for the four inputs (as Fig. 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = result.encoder(XOR_INPUTS)
    window = result.model.layers[0].window
    names = ["F,F", "F,T", "T,F", "T,T"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, title, state, amounts in (
        (axes[0], "before learning", result.state_before, result.amounts_before),
        (axes[1], "after learning", None, result.amounts_after),
    ):
        t, v = membrane_traces(result.model, x, state)
        for b in range(v.shape[0]):
            ax.plot(t / result.model.period, v[b].numpy(), label=f"{names[b]} (a={amounts[b]:.2f})")
        ax.axvline(window / result.model.period, color="k", lw=0.8, ls="--")
        ax.axhline(result.model.threshold or 0.0, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{result.mode} XOR, {title}")
        ax.set_xlabel("time / T (dashed: end of collecting window)")
        ax.legend(fontsize=8, loc="lower left")
    axes[0].set_ylabel("membrane potential V(t)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
