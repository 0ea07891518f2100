"""Analysis of the IIR associative-memory row (section 5.1): distances, spike recovery, Fig. 3 and Fig. 4.

Metrics over the test split (noisy versions of the stored patterns):

* ``distance_input``: Eq. 8 between the noisy input and its clean pattern (what the noise costs);
* ``distance_output_initial`` / ``distance_output``: Eq. 8 between the network's output and the
  (delayed) clean pattern, with the initial and with the trained weights;
* ``distance_silent``: Eq. 8 of an all-silent output (the target's own energy) -- the trivial
  baseline a reconstruction must beat, as must it beat ``distance_input``;
* ``recovered_exact`` / ``recovered_tol2``: fraction of the clean pattern's spikes that the output
  reproduces at the same step / within +-2 steps on the same train; ``precision_tol2``: fraction of
  output spikes within +-2 steps of a target spike; ``false_spikes_per_target_spike``: output spikes
  farther than 2 steps from every target spike, per target spike; ``nearest_pattern_acc``: fraction of samples
  whose output is nearest (Eq. 8) to their own pattern.

Files: ``fig3_rasters.png`` (noisy input, output before and after training, clean target for two
samples), ``fig4_hidden_rates.png`` + ``hidden_rates.csv`` (spike rate of each neuron of the
narrowest hidden layer for up to 64 test samples, rows grouped by class with a class colour bar),
``assoc_metrics.json``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from snnrepro.losses.van_rossum import van_rossum_distance
from snnrepro.metrics.accuracy import count_correct
from snnrepro.registry import ANALYSES


def spike_recovery(out: torch.Tensor, target: torch.Tensor, tol: int) -> tuple[float, float, float, float]:
    """(matched target spikes, target spikes, matched output spikes, output spikes) within +-``tol`` steps.

    ``out``, ``target``: ``[T, B, N]`` 0/1 spikes.
    """

    def dilate(s: torch.Tensor) -> torch.Tensor:
        if tol == 0:
            return s
        z = s.permute(1, 2, 0).reshape(-1, 1, s.shape[0])
        z = F.max_pool1d(z, 2 * tol + 1, stride=1, padding=tol)
        return z.reshape(s.shape[1], s.shape[2], -1).permute(2, 0, 1)

    hit_t = float((target * dilate(out)).sum())
    hit_o = float((out * dilate(target)).sum())
    return hit_t, float(target.sum()), hit_o, float(out.sum())


def _check_same_patterns(dataset, targets: torch.Tensor, delay: int) -> None:
    """The readout's stored patterns must be the dataset's (spec: ``memory`` params = ``dataset.params``)."""
    while hasattr(dataset, "dataset") and not hasattr(dataset, "patterns"):  # torch Subset
        dataset = dataset.dataset
    pats = getattr(dataset, "patterns", None)
    if pats is None:
        return
    steps = targets.shape[0]
    stored = targets[delay:].transpose(0, 1).cpu()
    if pats.shape != (targets.shape[1], steps, targets.shape[2]) or not torch.equal(pats[:, : steps - delay], stored):
        raise ValueError(
            "assoc_memory: the readout's stored patterns differ from the dataset's clean patterns; give"
            " model.params.memory the same pattern parameters (kind, rate, pattern_seed, ...) as dataset.params"
        )


def _narrowest_hidden(layers: list[torch.Tensor]) -> int:
    hidden = layers[:-1] or layers
    return min(range(len(hidden)), key=lambda i: hidden[i].shape[-1])


@ANALYSES.register("assoc_memory")
def run(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    out_dir: Path,
    max_samples: int = 1000,
    initial_state: dict[str, torch.Tensor] | None = None,
) -> dict[str, float]:
    """Compute the metrics above and write the figures into ``out_dir``; returns the metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    model.eval()
    enc, net = model.encoder, model.net
    head = net.readout
    if head is None or not hasattr(head, "targets"):
        raise ValueError("assoc_memory analysis needs an iir model with readout 'pattern_distance'")
    before = copy.deepcopy(net)
    state = {k[4:]: v for k, v in (initial_state or {}).items() if k.startswith("net.")}
    if state:
        before.load_state_dict(state, strict=False)
    kernel = head.kernel
    delay = head.target_delay
    _check_same_patterns(loader.dataset, head.targets, delay)
    sums = dict.fromkeys(("d_in", "d_out", "d_init", "d_silent", "n", "near"), 0.0)
    rec = {tol: [0.0, 0.0, 0.0, 0.0] for tol in (0, 2)}
    keep: dict[str, list[torch.Tensor]] = {"x": [], "out": [], "init": [], "tgt": [], "y": [], "hidden": []}
    with torch.no_grad():
        for x, y in loader:
            if sums["n"] >= max_samples:
                break
            x, y = x.to(device), y.to(device)
            s_in = enc(x)  # [T, B, N]
            layers = net.layer_spikes(s_in)
            out = layers[-1]
            init_out = before.output_spikes(s_in)
            tgt = head.targets[:, y]  # delayed clean patterns [T, B, N]
            clean = torch.zeros_like(tgt)
            clean[: tgt.shape[0] - delay] = tgt[delay:]
            sums["d_in"] += float(van_rossum_distance(s_in, clean, kernel).sum())
            sums["d_out"] += float(van_rossum_distance(out, tgt, kernel).sum())
            sums["d_init"] += float(van_rossum_distance(init_out, tgt, kernel).sum())
            sums["d_silent"] += float(van_rossum_distance(torch.zeros_like(tgt), tgt, kernel).sum())
            sums["near"] += float(count_correct(head(out), y))
            sums["n"] += len(y)
            for tol in rec:
                for i, v in enumerate(spike_recovery(out, tgt, tol)):
                    rec[tol][i] += v
            if sum(len(v) for v in keep["y"]) < 64:
                hid = layers[_narrowest_hidden(layers)]
                keep["x"].append(s_in.cpu())
                keep["out"].append(out.cpu())
                keep["init"].append(init_out.cpu())
                keep["tgt"].append(tgt.cpu())
                keep["y"].append(y.cpu())
                keep["hidden"].append(hid.mean(0).cpu())
    n = max(sums["n"], 1.0)
    metrics = {
        "samples": sums["n"],
        "distance_input": sums["d_in"] / n,
        "distance_output_initial": sums["d_init"] / n,
        "distance_output": sums["d_out"] / n,
        "distance_silent": sums["d_silent"] / n,
        "recovered_exact": rec[0][0] / max(rec[0][1], 1.0),
        "recovered_tol2": rec[2][0] / max(rec[2][1], 1.0),
        "precision_tol2": rec[2][2] / max(rec[2][3], 1.0),
        "output_spikes_per_target_spike": rec[0][3] / max(rec[0][1], 1.0),
        "false_spikes_per_target_spike": (rec[2][3] - rec[2][2]) / max(rec[2][1], 1.0),
        "nearest_pattern_acc": sums["near"] / n,
    }
    (out_dir / "assoc_metrics.json").write_text(json.dumps(metrics, indent=1))
    if keep["y"]:
        xs, outs, inits, tgts = (torch.cat(keep[k], 1) for k in ("x", "out", "init", "tgt"))
        ys = torch.cat(keep["y"])
        hidden = torch.cat(keep["hidden"])[:64]
        _plot_rasters(plt, xs, inits, outs, tgts, ys, out_dir / "fig3_rasters.png")
        _plot_hidden(plt, hidden, ys[:64], out_dir)
    return metrics


def _raster(ax, s: torch.Tensor, title: str) -> None:
    t, n = s.nonzero(as_tuple=True)
    ax.scatter(t.numpy(), n.numpy(), s=0.4, c="k", marker=".", linewidths=0)
    ax.set_xlim(0, s.shape[0])
    ax.set_ylim(0, s.shape[1])
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=6)


def _plot_rasters(plt, xs, inits, outs, tgts, ys, path: Path) -> None:
    picks = [0]
    other = (ys != ys[0]).nonzero().flatten()
    if len(other):
        picks.append(int(other[0]))
    fig, axes = plt.subplots(len(picks), 4, figsize=(12, 3 * len(picks)), squeeze=False)
    for row, b in enumerate(picks):
        for col, (s, name) in enumerate(
            ((xs, "noisy input"), (inits, "output, initial weights"), (outs, "output, trained"), (tgts, "target"))
        ):
            _raster(axes[row][col], s[:, b], f"pattern {int(ys[b])}: {name}")
            axes[row][col].set_xlabel("time step", fontsize=7)
        axes[row][0].set_ylabel("spike train", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_hidden(plt, hidden: torch.Tensor, ys: torch.Tensor, out_dir: Path) -> None:
    order = torch.argsort(ys, stable=True)
    rates, labels = hidden[order], ys[order]
    lines = ["sample,class," + ",".join(f"n{i}" for i in range(rates.shape[1]))]
    for i in range(rates.shape[0]):
        lines.append(f"{int(order[i])},{int(labels[i])}," + ",".join(f"{v:.4f}" for v in rates[i].tolist()))
    (out_dir / "hidden_rates.csv").write_text("\n".join(lines) + "\n")
    fig, (bar, ax) = plt.subplots(1, 2, figsize=(9, 5), gridspec_kw={"width_ratios": [1, 25]}, sharey=True)
    bar.imshow(labels[:, None].numpy(), aspect="auto", cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
    bar.set_xticks([])
    bar.set_ylabel("test sample (grouped by class)")
    im = ax.imshow(rates.numpy(), aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xlabel("hidden neuron")
    ax.set_title("hidden-layer spike rate per sample (Fig. 4)", fontsize=9)
    fig.colorbar(im, ax=ax, label="spikes / step")
    fig.tight_layout()
    fig.savefig(out_dir / "fig4_hidden_rates.png", dpi=120)
    plt.close(fig)
