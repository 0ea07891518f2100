"""Silent neurons per hidden layer as the input-spike proportion grows (BRP-SNN Fig. 8, Sec. III-G).

A hidden neuron is *silent* for a sample when it emits no spike during the whole window T (it
"hadn't received any spikes, or received but still not firing"); a layer's silent proportion is the
mean over its neurons and the test samples.  The input-spike proportion ``q`` (Fig. 8's x axis,
0..40 %) is realised in one of two ways (``mode``):

* ``thin`` (default): the trained network's own encoder produces the input spikes and each of them
  is delivered to the first layer with probability ``q`` - ``q`` is the proportion of the input's
  spikes presented.  Works for every dataset (MNIST cannot reach a 40 % spike *density*: ~80 % of its
  pixels are 0).
* ``density``: the input's per-step spike probabilities ``p`` (the encoder's, e.g. Eq. 3's
  ``clamp(x / I_rd)``) are rescaled to ``clamp(k p, 0, 1)`` with ``k`` chosen by bisection so that a
  fraction ``q`` of all (input neuron, step) pairs spikes on average; where even ``k -> inf`` cannot
  reach ``q`` (too few non-zero inputs) every non-zero input spikes and the CSV shows the density
  actually reached.

Writes ``silent_neurons.csv`` (mode, input_spike_proportion, input_spike_density, layer,
silent_proportion) and ``silent_neurons.png`` into the run's artifact folder and returns
``{"<layer>@<q>": silent proportion}`` (fractions, not percent) for the run record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from snnrepro.registry import ANALYSES
from snnrepro.rules.brp import find_local_layers

DEFAULT_PROPORTIONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
MODES = ("thin", "density")


def encoder_of(model: nn.Module) -> nn.Module:
    """The encoder in front of the network (``nn.Sequential(encoder, net)`` as the engine builds it)."""
    root = getattr(model, "module", model)
    if hasattr(root, "encoder"):
        return root.encoder
    if isinstance(root, nn.Sequential) and len(root) == 2:
        return root[0]
    raise TypeError("silent_neurons: expected the engine's nn.Sequential(encoder, net) model")


def spike_probabilities(encoder: nn.Module, x: torch.Tensor, draws: int = 16) -> torch.Tensor:
    """Per-step input spike probability ``[T, B, ...]`` under ``encoder``.

    Encoders with a ``probabilities(x)`` method (``frames``) and the ``rate`` encoder (``clamp(x * scale)``)
    give it exactly; any other encoder is estimated as the mean of ``draws`` encodings (exact for
    deterministic ones such as ``events``), clamped to [0, 1].
    """
    from snnrepro.encoders.rate import Rate

    if hasattr(encoder, "probabilities"):
        return encoder.probabilities(x).clamp(0.0, 1.0)
    if isinstance(encoder, Rate):
        p = (x.float() * encoder.scale).clamp(0.0, 1.0)
        return p.unsqueeze(0).expand(encoder.T, *p.shape)
    first = encoder(x).float()
    total = first.clone()
    for _ in range(draws - 1):
        total += encoder(x).float()
    return (total / draws).clamp(0.0, 1.0)


def scale_to_density(p: torch.Tensor, q: float, iters: int = 60) -> torch.Tensor:
    """``clamp(k p, 0, 1)`` with mean ``q`` (bisection on ``k``); the indicator ``p > 0`` if ``q`` is out of reach."""
    if q <= 0:
        return torch.zeros_like(p)
    support = (p > 0).to(p.dtype)
    if float(support.mean()) <= q:
        return support
    lo, hi = 0.0, 1.0
    while float((p * hi).clamp(0, 1).mean()) < q:
        hi *= 2.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if float((p * mid).clamp(0, 1).mean()) < q:
            lo = mid
        else:
            hi = mid
    return (p * hi).clamp(0.0, 1.0)


def _layer_key(name: str) -> str:
    return name.split(" ")[0]


@ANALYSES.register("silent_neurons")
def silent_neurons(
    model: nn.Module,
    loader: Any,
    device: torch.device,
    out_dir: Path,
    proportions: list[float] | tuple[float, ...] = DEFAULT_PROPORTIONS,
    mode: str = "thin",
    max_batches: int | None = 4,
    draws: int = 16,
    seed: int = 0,
) -> dict[str, float]:
    """Fig. 8: silent proportion of every hidden layer for each input-spike proportion; CSV + PNG."""
    if mode not in MODES:
        raise ValueError(f"silent_neurons: mode must be one of {', '.join(MODES)}, got {mode!r}")
    qs = [float(q) for q in proportions]
    if not qs or any(not 0.0 <= q <= 1.0 for q in qs):
        raise ValueError(f"silent_neurons: proportions must lie in [0, 1], got {list(proportions)}")
    net = find_local_layers(model)
    encoder = encoder_of(model)
    names = list(net.layer_names())
    silent = torch.zeros(len(qs), len(names), dtype=torch.float64)
    density = torch.zeros(len(qs), dtype=torch.float64)
    samples = 0
    was_training = model.training
    model.eval()
    devices = [device] if device.type == "cuda" else []
    with torch.no_grad(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for i, (x, _y) in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            x = x.to(device)
            batch = x.shape[0]
            base = encoder(x).float() if mode == "thin" else spike_probabilities(encoder, x, draws)
            for j, q in enumerate(qs):
                if mode == "thin":
                    inp = base * (torch.rand_like(base) < q).to(base.dtype)
                else:
                    prob = scale_to_density(base, q)
                    inp = (torch.rand_like(prob) < prob).to(prob.dtype)
                with net.record_hidden(detach_inputs=False) as hidden:
                    net(inp)
                density[j] += float((inp > 0).float().mean()) * batch
                for k, h in enumerate(hidden):
                    never = (h.amax(0) == 0).flatten(1).float().mean(1)  # per sample: share of silent neurons
                    silent[j, k] += float(never.sum())
            samples += batch
    model.train(was_training)
    if samples == 0:
        raise ValueError("silent_neurons: the test loader gave no samples")
    silent /= samples
    density /= samples
    rows = [
        {
            "mode": mode,
            "input_spike_proportion": q,
            "input_spike_density": float(density[j]),
            "layer": names[k],
            "silent_proportion": float(silent[j, k]),
        }
        for j, q in enumerate(qs)
        for k in range(len(names))
    ]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_csv(rows, out_dir / "silent_neurons.csv")
    _plot(qs, names, silent, mode, out_dir / "silent_neurons.png")
    metrics = {
        f"{_layer_key(names[k])}@{q:.2f}": float(silent[j, k]) for j, q in enumerate(qs) for k in range(len(names))
    }
    metrics.update({f"input_density@{q:.2f}": float(density[j]) for j, q in enumerate(qs)})
    return metrics


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False, float_format="%.6f")


def _plot(qs: list[float], names: list[str], silent: torch.Tensor, mode: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    xs = [100.0 * q for q in qs]
    for k, name in enumerate(names):
        ax.plot(xs, (100.0 * silent[:, k]).tolist(), marker="o", label=name)
    ax.set_xlabel("input spikes (%)" + (" delivered" if mode == "thin" else " density"))
    ax.set_ylabel("silent neurons (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Silent neurons per hidden layer (BRP-SNN Fig. 8)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
