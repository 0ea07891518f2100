"""Spike-time statistics of a ReL-PSP network on the test set (STDBP paper, Fig. 5).

For every test image, with ``t_dec`` = the earliest output spike (the decision):

* ``hidden_fired_before_decision`` - fraction of hidden neurons (all hidden ReL-PSP layers) whose
  spike time is ``< t_dec`` (paper, 784-400-10: 48.6 %);
* ``hidden_fired`` - fraction of hidden neurons that spike at all inside the window (paper: 66.3 %);
* ``output_fired`` - fraction of output neurons that spike; ``decision_time_mean`` - mean ``t_dec``.

Averaged over neurons and images (percent).  Histograms of the hidden spike times and of the
earliest output spike time go to ``spike_times.csv`` and ``spike_times.png`` in ``out_dir``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from snnrepro.models.relpsp import RelPspNet
from snnrepro.registry import ANALYSES


def _split(model: nn.Module) -> tuple[nn.Module, RelPspNet]:
    """(encoder, ReL-PSP network) of the engine's ``Sequential(encoder, net)`` or a bare network."""
    if isinstance(model, RelPspNet):
        return nn.Identity(), model
    if isinstance(model, nn.Sequential) and isinstance(model[-1], RelPspNet):
        return model[:-1], model[-1]
    raise ValueError("spike_times: the model is not a relpsp network (family 'relpsp')")


@ANALYSES.register("spike_times")
def run(model: nn.Module, loader: DataLoader, device: torch.device, out_dir: Path, bins: int = 50) -> dict[str, float]:
    """Fig. 5 statistics and histograms; returns percentages and the mean decision time."""
    encoder, net = _split(model)
    t_max = net.t_max
    model.eval()
    n_img = 0
    before = fired = out_fired = n_hidden = 0.0
    dec_sum = 0.0
    hidden_times: list[torch.Tensor] = []
    decisions: list[torch.Tensor] = []
    with torch.no_grad():
        for x, _ in loader:
            times = net.spike_times(encoder(x.to(device)))
            hidden = torch.cat([t.flatten(1) for t in times[:-1]], 1) if len(times) > 1 else None
            out = times[-1]
            t_dec = out.min(1).values  # [B]
            if hidden is not None:
                n_hidden = hidden.shape[1]
                before += float((hidden < t_dec.unsqueeze(1)).float().mean(1).sum())
                fired += float((hidden < t_max).float().mean(1).sum())
                hidden_times.append(hidden[hidden < t_max].cpu())
            out_fired += float((out < t_max).float().mean(1).sum())
            dec_sum += float(t_dec.sum())
            decisions.append(t_dec.cpu())
            n_img += len(t_dec)
    n = max(n_img, 1)
    metrics = {
        "hidden_fired_before_decision": 100.0 * before / n,
        "hidden_fired": 100.0 * fired / n,
        "output_fired": 100.0 * out_fired / n,
        "decision_time_mean": dec_sum / n,
        "hidden_neurons": float(n_hidden),
        "images": float(n_img),
        "t_max": float(t_max),
    }
    _write_histograms(out_dir, hidden_times, decisions, t_max, bins, metrics)
    return metrics


def _write_histograms(
    out_dir: Path,
    hidden: list[torch.Tensor],
    decisions: list[torch.Tensor],
    t_max: float,
    bins: int,
    metrics: dict[str, float],
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    h = torch.cat(hidden) if hidden else torch.zeros(0)
    d = torch.cat(decisions) if decisions else torch.zeros(0)
    edges = torch.linspace(0.0, t_max, bins + 1)
    h_counts = torch.histc(h, bins=bins, min=0.0, max=t_max) if h.numel() else torch.zeros(bins)
    d_counts = torch.histc(d[d < t_max], bins=bins, min=0.0, max=t_max) if d.numel() else torch.zeros(bins)
    with (out_dir / "spike_times.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["bin_start", "bin_end", "hidden_spikes", "first_output_spikes"])
        for i in range(bins):
            w.writerow([f"{edges[i]:.6g}", f"{edges[i + 1]:.6g}", int(h_counts[i]), int(d_counts[i])])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    centers = ((edges[:-1] + edges[1:]) / 2).numpy()
    width = float(edges[1] - edges[0])
    ax.bar(centers, h_counts.numpy(), width=width, alpha=0.6, label="hidden spikes")
    ax2 = ax.twinx()
    ax2.bar(centers, d_counts.numpy(), width=width, alpha=0.6, color="tab:red", label="earliest output spike")
    ax.set_xlabel("spike time")
    ax.set_ylabel("hidden spikes")
    ax2.set_ylabel("images (earliest output spike)")
    ax.set_title(
        f"hidden fired before decision {metrics['hidden_fired_before_decision']:.1f} %,"
        f" at all {metrics['hidden_fired']:.1f} %",
        fontsize=9,
    )
    fig.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "spike_times.png", dpi=100)
    plt.close(fig)
