"""NeuroBench-style workload metrics for every family: spikes, sparsity, synaptic operations, latency.

Definitions follow NeuroBench (Yik et al., *Nature Communications* 2025; the ``neurobench`` package):

* ``footprint_bytes`` - bytes of every parameter and buffer (NeuroBench *Footprint*);
* ``activation_sparsity`` - ``1 - spikes / neuron_updates`` over every spiking population
  (NeuroBench *ActivationSparsity*: zeros among all activations);
* ``effective_acs`` / ``effective_macs`` - per sample, for every synaptic layer: the layer with
  its non-zero weights set to 1 (bias 0) applied to its input with non-zero entries set to 1,
  summed; counted as accumulates when the input is spiking (every entry in {-1, 0, 1}), else as
  multiply-accumulates (NeuroBench *SynapticOperations*).  ``dense_synops`` is the same count
  with every weight and input set to 1.  For ``nn.Linear``/``nn.Conv1d``/``nn.Conv2d`` this is
  NeuroBench's own ``single_layer_MACs`` when the package is installed (the same formula written
  here otherwise, tested equal);
* ``spikes_per_sample`` - spikes emitted by every spiking population (not the encoder);
* ``latency`` - when the decision is available: the last time step for the clocked families
  (LIF/BRP/IIR read spike counts over all ``T`` steps; ``latency_unit`` = ``steps``, plus
  ``first_output_spike`` = mean step of the first output spike), the mean time of the first
  output spike for ReL-PSP (``latency_unit`` = input window, ``t_in`` in ``[0, 1]``), and the sum
  of the layers' collecting windows plus one period for RSN (``latency_unit`` = periods).

NeuroBench does not count the spike-time layers; for them the same definitions are applied to
their events: a ReL-PSP input spike (time ``< t_max``) and an RSN phasor spike (amount ``> 0``)
are one event that costs one accumulate per non-zero outgoing weight (ReL-PSP: ``w`` added to
the slope of each target, Eq. 10; RSN: the complex weight added to each target's phasor, Eq. 6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from snnrepro.neurons.iir import IIRNeuron
from snnrepro.neurons.lif import LIF
from snnrepro.neurons.relpsp import RelPspConv2d, RelPspDense
from snnrepro.neurons.resonate import ResonateConv2d, ResonateDense
from snnrepro.registry import ANALYSES

STATELESS = (nn.Linear, nn.Conv1d, nn.Conv2d)
CLOCKED_NEURONS = (LIF, IIRNeuron)
TIMED_LAYERS = (RelPspDense, RelPspConv2d)
PHASOR_LAYERS = (ResonateDense, ResonateConv2d)


def _binary_layer_sum(layer: nn.Module, x: torch.Tensor, all_ones: bool) -> float:
    """Sum of ``layer`` applied to ``x`` with its non-zero weights (every weight if ``all_ones``) set to 1, no bias."""
    w = layer.weight.detach()
    wb = torch.ones_like(w) if all_ones else (w != 0).to(w.dtype)
    if isinstance(layer, nn.Linear):
        return float(F.linear(x, wb).sum())
    return float(layer._conv_forward(x, wb, None).sum())  # Conv1d / Conv2d with the layer's stride, padding, groups


def stateless_ops(x: torch.Tensor, layer: nn.Module, total: bool = False) -> tuple[float, bool]:
    """(operations, spiking) of one call of a Linear/Conv layer on ``x``: NeuroBench's definition.

    NeuroBench's ``single_layer_MACs`` (when installed) is the reference; this formula equals it (tested).
    """
    with torch.no_grad():
        x = x.detach()
        spiking = bool(((x == 0) | (x == 1) | (x == -1)).all())
        xb = torch.ones_like(x) if total else (x != 0).to(x.dtype)
        return _binary_layer_sum(layer, xb, total), spiking


def event_ops(events: torch.Tensor, layer: nn.Module, total: bool = False) -> float:
    """Accumulates caused by the binary ``events`` entering a spike-time layer (ReL-PSP or RSN)."""
    with torch.no_grad():
        ev = torch.ones_like(events) if total else events
        w = layer.weight.detach()
        wb = torch.ones_like(w) if total else (w != 0).to(w.dtype)
        if isinstance(layer, RelPspDense):
            return float((ev.flatten(1).to(wb.dtype) @ wb).sum())
        if isinstance(layer, RelPspConv2d):
            kernel = wb.t().reshape(layer.c_out, layer.c_in, *layer.kernel)
            return float(F.conv2d(ev.to(wb.dtype), kernel, padding=layer.padding).sum())
        if isinstance(layer, ResonateDense):
            return float(F.linear(ev.flatten(1).to(wb.dtype), wb).sum())
        if isinstance(layer, ResonateConv2d):
            return float(F.conv2d(ev.to(wb.dtype), wb, padding=layer.padding).sum())
    raise TypeError(f"not a spike-time layer: {type(layer).__name__}")


@dataclass
class Tally:
    """Running sums over the evaluated batches (per-sample values divide by ``samples``)."""

    samples: int = 0
    spikes: float = 0.0
    updates: float = 0.0
    acs: float = 0.0
    macs: float = 0.0
    dense: float = 0.0
    first_spike: list[float] = field(default_factory=list)
    steps: int = 0
    windows: dict[int, float] = field(default_factory=dict)  # RSN layer -> its collecting window in periods


class Counter:
    """Forward hooks on every synaptic layer and spiking population of a model."""

    def __init__(self, model: nn.Module) -> None:
        self.tally = Tally()
        self.handles: list[torch.utils.hooks.RemovableHandle] = []
        mods = list(model.named_modules())
        self.last_neuron = None
        for _name, mod in mods:
            if isinstance(mod, STATELESS):
                self.handles.append(mod.register_forward_hook(self._stateless))
            elif isinstance(mod, TIMED_LAYERS + PHASOR_LAYERS):
                self.handles.append(mod.register_forward_hook(self._timed))
            if isinstance(mod, CLOCKED_NEURONS + TIMED_LAYERS + PHASOR_LAYERS):
                self.last_neuron = mod
                if isinstance(mod, CLOCKED_NEURONS):
                    self.handles.append(mod.register_forward_hook(self._clocked))
        self.output_first: list[torch.Tensor] = []

    def _stateless(self, mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        ops, spiking = stateless_ops(inp[0], mod)
        dense, _ = stateless_ops(inp[0], mod, total=True)
        t = self.tally
        t.acs, t.macs = (t.acs + ops, t.macs) if spiking else (t.acs, t.macs + ops)
        t.dense += dense

    def _clocked(self, mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        s = out.detach()
        self.tally.spikes += float((s != 0).sum())
        self.tally.updates += float(s.numel())
        self.tally.steps = max(self.tally.steps, int(s.shape[0]))
        if mod is self.last_neuron:  # [T, B, ...] -> first step with an output spike, per sample
            fired = (s != 0).flatten(2).any(-1)  # [T, B]
            step = torch.where(fired.any(0), fired.float().argmax(0).float() + 1, torch.nan)
            self.output_first.append(step)

    def _timed(self, mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        t = self.tally
        if isinstance(mod, TIMED_LAYERS):
            events_in = (inp[0].detach() < mod.t_max).float()
            events_out = out.detach() < mod.t_max
            if mod is self.last_neuron:
                times = torch.where(events_out, out.detach(), torch.nan).flatten(1)
                self.output_first.append(torch.where(events_out.flatten(1).any(1), _nanmin(times), torch.nan))
        else:
            z_in, z_out = inp[0].detach(), out.detach()
            events_in = ((z_in[0] != 0) | (z_in[1] != 0)).float()
            events_out = (z_out[0] != 0) | (z_out[1] != 0)
            t.windows[id(mod)] = float(mod.window / mod.period)  # once per layer, however many batches
        t.acs += event_ops(events_in, mod)
        t.dense += event_ops(events_in, mod, total=True)
        t.spikes += float(events_out.sum())
        t.updates += float(events_out.numel())

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def _nanmin(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isnan(x), torch.inf, x).min(1).values


def footprint(model: nn.Module) -> int:
    """Bytes of every parameter and buffer (NeuroBench Footprint)."""
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def measure(model: nn.Module, loader: DataLoader, device: torch.device, max_batches: int | None = None) -> dict:
    """Run up to ``max_batches`` test batches through ``model`` and return the per-sample metrics."""
    model = model.to(device).eval()
    counter = Counter(model)
    if counter.last_neuron is None:
        counter.close()
        raise ValueError("neuromorphic: the model has no spiking population this analysis knows")
    try:
        with torch.no_grad():
            for i, (x, _y) in enumerate(loader):
                if max_batches is not None and i >= max_batches:
                    break
                model(x.to(device))
                counter.tally.samples += int(_y.shape[0])
    finally:
        counter.close()
    t = counter.tally
    if t.samples == 0:
        raise ValueError("neuromorphic: the test loader is empty")
    firsts = torch.cat(counter.output_first) if counter.output_first else torch.empty(0)
    answered = firsts[~torch.isnan(firsts)]
    metrics = {
        "samples": float(t.samples),
        "footprint_bytes": float(footprint(model)),
        "spikes_per_sample": t.spikes / t.samples,
        "activation_sparsity": 1.0 - t.spikes / t.updates if t.updates else math.nan,
        "effective_acs": t.acs / t.samples,
        "effective_macs": t.macs / t.samples,
        "dense_synops": t.dense / t.samples,
        "silent_output_fraction": float(1.0 - len(answered) / max(len(firsts), 1)) if len(firsts) else math.nan,
        "first_output_spike": float(answered.mean()) if len(answered) else math.nan,
    }
    last = counter.last_neuron
    if isinstance(last, CLOCKED_NEURONS):
        metrics.update(latency=float(t.steps), latency_unit="steps")
    elif isinstance(last, TIMED_LAYERS):
        metrics.update(latency=metrics["first_output_spike"], latency_unit="input windows")
    else:
        metrics.update(latency=sum(t.windows.values()) + 1.0, latency_unit="periods")
    return metrics


@ANALYSES.register("neuromorphic")
def run(
    model: nn.Module, loader: DataLoader, device: torch.device, out_dir: Path, max_batches: int = 10
) -> dict[str, float | str]:
    """Analysis entry: :func:`measure` on up to ``max_batches`` test batches (plus the peak GPU memory)."""
    if max_batches < 1:
        raise ValueError(f"neuromorphic: max_batches must be >= 1, got {max_batches}")
    metrics: dict[str, float | str] = dict(measure(model, loader, device, max_batches))
    if device.type == "cuda":
        metrics["peak_memory_bytes"] = float(torch.cuda.max_memory_allocated(device))
    return metrics
