"""Firing rates, synaptic operations and the energy ratio of Eq. 1 (BPSA/BPTA paper, Table 5 and Fig. 2).

Eq. 1 (after Chakraborty et al. 2021)::

    E_ANN = FLOPS_ANN x E_MAC
    E_SNN = FLOPS_SNN x E_AC x T

Measured on the test loader with forward hooks, per sample:

* ``firing_rate`` - spikes per neuron per step over every LIF population (neuron-weighted mean);
  per-layer rates go to ``firing_rates.csv`` and ``firing_rates.png`` (the paper's Fig. 2);
* ``flops_ann`` - multiply-accumulates of one pass of the same network as an ANN (every Conv2d and
  Linear: ``out_elements x fan_in``);
* ``synops`` - accumulates of the SNN over the T steps: each synaptic layer's MACs times the
  fraction of its inputs that are non-zero (spikes), summed over steps; the first synaptic layer
  receives the encoder's analog input and is counted as ``first_layer_macs`` (MACs, every step);
* ``ee_paper`` = ``E_MAC / (firing_rate x E_AC x T)`` - Eq. 1 with ``FLOPS_SNN = firing_rate x FLOPS_ANN``;
  with ``e_mac = 4.6`` and ``e_ac = 0.1`` pJ (45 nm, float MAC and integer AC) this reproduces every EE
  printed in Table 5 from the printed firing rate and T = 16 (e.g. 4.6 / (0.082 x 0.1 x 16) = 35.1);
* ``ee_synops`` = ``FLOPS_ANN x E_MAC / (first_layer_macs x E_MAC x T + synops x E_AC)`` - the
  same ratio from counted operations (MACs for the first layer, ACs for spikes).

``reported_firing_rate`` / ``reported_ee`` (the paper's Table 5 values for the spec's row) are echoed
into the metrics so that the run record holds both.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from snnrepro.neurons.lif import LIF
from snnrepro.registry import ANALYSES


def _macs_per_item(module: nn.Module, out: torch.Tensor) -> float:
    """MACs of one batch item of a Conv2d/Linear call with output ``out``."""
    if isinstance(module, nn.Conv2d):
        fan_in = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        return float(out[0].numel() * fan_in)
    return float(out.shape[-1] * module.in_features)


class _Counter:
    """Forward hooks that accumulate per-layer statistics over several batches."""

    def __init__(self, model: nn.Module) -> None:
        self.syn: dict[str, dict[str, float]] = {}
        self.lif: dict[str, dict[str, float]] = {}
        self.order: list[str] = []
        self.handles = []
        for name, mod in model.named_modules():
            if isinstance(mod, nn.Conv2d | nn.Linear):
                self.handles.append(mod.register_forward_hook(self._syn_hook(name)))
            elif isinstance(mod, LIF):
                self.handles.append(mod.register_forward_hook(self._lif_hook(name)))

    def _syn_hook(self, name: str):
        def hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            x = inp[0]
            s = self.syn.setdefault(name, {"macs": _macs_per_item(mod, out), "items": 0.0, "active": 0.0, "n": 0.0})
            if name not in self.order:
                self.order.append(name)
            s["items"] += out.shape[0]
            s["active"] += float((x != 0).sum())
            s["n"] += float(x.numel())

        return hook

    def _lif_hook(self, name: str):
        def hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            s = self.lif.setdefault(name, {"spikes": 0.0, "n": 0.0, "neurons": float(out[0, 0].numel()), "T": 0.0})
            s["spikes"] += float(out.sum())
            s["n"] += float(out.numel())
            s["T"] = float(out.shape[0])

        return hook

    def close(self) -> None:
        for h in self.handles:
            h.remove()


@ANALYSES.register("energy")
def run(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    out_dir: Path,
    e_mac: float = 4.6,
    e_ac: float = 0.1,
    max_batches: int = 10,
    reported_firing_rate: float | None = None,
    reported_ee: float | None = None,
) -> dict[str, float]:
    """Measure rates and operations on up to ``max_batches`` test batches; write CSV + PNG into ``out_dir``."""
    if e_mac <= 0 or e_ac <= 0:
        raise ValueError(f"energy: e_mac and e_ac must be positive, got {e_mac}, {e_ac}")
    model = model.to(device).eval()
    counter = _Counter(model)
    samples = 0
    try:
        with torch.no_grad():
            for i, (x, _y) in enumerate(loader):
                if i >= max_batches:
                    break
                model(x.to(device))
                samples += x.shape[0]
    finally:
        counter.close()
    if not counter.lif or samples == 0:
        raise ValueError("energy: the model has no LIF layers or the loader is empty")
    steps = max(s["T"] for s in counter.lif.values())
    spikes = sum(s["spikes"] for s in counter.lif.values())
    cells = sum(s["n"] for s in counter.lif.values())
    rate = spikes / cells
    flops_ann = sum(s["macs"] for s in counter.syn.values())
    first = counter.order[0]
    synops = 0.0
    for name in counter.order[1:]:
        s = counter.syn[name]
        activity = s["active"] / s["n"]
        synops += s["macs"] * activity * steps  # ACs per sample over the T steps
    first_macs = counter.syn[first]["macs"]
    ee_paper = e_mac / (rate * e_ac * steps) if rate > 0 else float("inf")
    e_snn = first_macs * e_mac * steps + synops * e_ac
    ee_synops = flops_ann * e_mac / e_snn if e_snn > 0 else float("inf")

    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(counter.lif)
    with (out_dir / "firing_rates.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["layer", "kind", "neurons_or_macs", "firing_rate_or_input_activity"])
        for name in names:
            s = counter.lif[name]
            w.writerow([name, "lif", int(s["neurons"]), f"{s['spikes'] / s['n']:.6f}"])
        for name in counter.order:
            s = counter.syn[name]
            w.writerow([name, "synapse", int(s["macs"]), f"{s['active'] / s['n']:.6f}"])
    _plot(names, [counter.lif[n]["spikes"] / counter.lif[n]["n"] for n in names], out_dir / "firing_rates.png")

    metrics = {
        "firing_rate": rate,
        "T": steps,
        "flops_ann": flops_ann,
        "first_layer_macs": first_macs,
        "synops": synops,
        "ee_paper": ee_paper,
        "ee_synops": ee_synops,
        "samples": float(samples),
    }
    for i, name in enumerate(names):
        metrics[f"rate_lif{i + 1}"] = counter.lif[name]["spikes"] / counter.lif[name]["n"]
    if reported_firing_rate is not None:
        metrics["reported_firing_rate"] = float(reported_firing_rate)
    if reported_ee is not None:
        metrics["reported_ee"] = float(reported_ee)
    return metrics


def _plot(names: list[str], rates: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(names) + 2), 3.2))
    ax.bar(range(1, len(rates) + 1), rates, color="#4477aa")
    ax.set_xlabel("LIF layer")
    ax.set_ylabel("firing rate (spikes / neuron / step)")
    ax.set_xticks(range(1, len(rates) + 1))
    ax.set_title("Firing rate per layer")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
