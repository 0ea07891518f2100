"""Analysis: learned synapse kernels vs the initial kernel (IIR-SNN Fig. 5).

For every IIR layer, the impulse response of each presynaptic axon's filter (Eq. 5d) is computed
with the trained coefficients and with the initial ones (``initial_state``, passed by the engine).
``fig5_kernels.png`` draws, per layer, up to ``max_kernels`` learned kernels (thin lines) and the
initial kernel (solid red, as in the paper); ``kernels.csv`` holds the learned kernels' mean and
quantiles per step.  Metrics per layer: the mean relative L2 change of the kernels and the fraction
of axons whose kernel decays more slowly than the initial one (larger tail mass after its peak).

Also usable on a checkpoint without the engine: ``plot_kernels(net, initial_net, out_dir)``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from snnrepro.registry import ANALYSES


def _layer_kernels(net: nn.Module, steps: int) -> list[torch.Tensor]:
    return [f.impulse_response(steps).reshape(steps, -1).cpu() for f in net.synapse_filters()]


def plot_kernels(
    net: nn.Module, initial_net: nn.Module, out_dir: Path, steps: int = 30, max_kernels: int = 50, seed: int = 0
) -> dict[str, float]:
    """Write ``fig5_kernels.png`` and ``kernels.csv`` for an ``IIRNet`` and its initial copy; return metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    learned, initial = _layer_kernels(net, steps), _layer_kernels(initial_net, steps)
    metrics: dict[str, float] = {}
    fig, axes = plt.subplots(1, len(learned), figsize=(3.2 * len(learned), 3), squeeze=False)
    g = torch.Generator().manual_seed(seed)
    rows = ["layer,step,initial,learned_mean,learned_q10,learned_q90"]
    t = torch.arange(steps)
    for i, (k, k0) in enumerate(zip(learned, initial, strict=True)):
        ax = axes[0][i]
        pick = torch.randperm(k.shape[1], generator=g)[:max_kernels]
        for j in pick.tolist():
            ax.plot(t, k[:, j].numpy(), color="tab:blue", lw=0.5, alpha=0.4)
        ax.plot(t, k0[:, 0].numpy(), color="red", lw=2.0, label="initial kernel")
        ax.set_title(f"layer {i + 1} ({k.shape[1]} axons)", fontsize=8)
        ax.set_xlabel("time step", fontsize=7)
        ax.tick_params(labelsize=6)
        change = (k - k0).norm(dim=0) / k0.norm(dim=0).clamp_min(1e-12)
        peak = int(k0[:, 0].argmax())
        tail, tail0 = k[peak + 1 :].sum(0), k0[peak + 1 :].sum(0)
        metrics[f"layer{i + 1}_rel_change"] = float(change.mean())
        metrics[f"layer{i + 1}_slower_decay_frac"] = float((tail > tail0 + 1e-9).float().mean())
        q = torch.quantile(k, torch.tensor([0.1, 0.9]), dim=1)
        for s in range(steps):
            rows.append(f"{i + 1},{s},{float(k0[s, 0]):.6f},{float(k[s].mean()):.6f},{float(q[0, s]):.6f},"
                        f"{float(q[1, s]):.6f}")
    axes[0][0].set_ylabel("synapse response", fontsize=7)
    axes[0][0].legend(fontsize=6)
    fig.suptitle("learned synapse kernels (blue) vs initial kernel (red), Fig. 5", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / "fig5_kernels.png", dpi=120)
    plt.close(fig)
    (out_dir / "kernels.csv").write_text("\n".join(rows) + "\n")
    return metrics


@ANALYSES.register("iir_kernels")
def run(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    out_dir: Path,
    steps: int = 30,
    max_kernels: int = 50,
    initial_state: dict[str, torch.Tensor] | None = None,
) -> dict[str, float]:
    """Fig. 5 for a trained ``iir`` model (the engine's ``Sequential(encoder, net)``)."""
    net = model.net.cpu()
    initial = copy.deepcopy(net)
    state = {k[4:]: v for k, v in (initial_state or {}).items() if k.startswith("net.")}
    if state:
        initial.load_state_dict(state, strict=False)
    try:
        return plot_kernels(net, initial, Path(out_dir), steps, max_kernels)
    finally:
        model.to(device)
