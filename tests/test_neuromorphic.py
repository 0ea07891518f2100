"""The NeuroBench-style workload metrics: counts against brute force and against NeuroBench itself."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from snnrepro.analyses.neuromorphic import event_ops, footprint, measure, stateless_ops
from snnrepro.neurons.lif import LIF
from snnrepro.neurons.relpsp import RelPspConv2d, RelPspDense
from snnrepro.neurons.resonate import ResonateDense


def _sparse(shape: tuple[int, ...], p: float, seed: int, binary: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(shape, generator=g) < p).float()
    return mask if binary else mask * torch.randn(shape, generator=g)


def _brute_dense(x: torch.Tensor, w_out_in: torch.Tensor) -> int:
    """Count (sample, non-zero input, non-zero weight out of it) triples one by one."""
    n = 0
    for b, i in itertools.product(range(x.shape[0]), range(x.shape[1])):
        if x[b, i] != 0:
            n += int((w_out_in[:, i] != 0).sum())
    return n


def _brute_conv2d(x: torch.Tensor, w: torch.Tensor, padding: int, stride: int) -> int:
    """For every output position and kernel tap: one operation where input and weight are non-zero."""
    xp = nn.functional.pad(x, (padding,) * 4)
    bsz, _c, h, wd = xp.shape
    o, ci, kh, kw = w.shape
    n = 0
    for b, oc in itertools.product(range(bsz), range(o)):
        for y in range(0, h - kh + 1, stride):
            for xx in range(0, wd - kw + 1, stride):
                patch = xp[b, :, y : y + kh, xx : xx + kw]
                n += int(((patch != 0) & (w[oc] != 0)).sum())
    return n


def test_linear_ops_count_every_nonzero_input_times_its_nonzero_weights() -> None:
    layer = nn.Linear(12, 5)
    with torch.no_grad():
        layer.weight[layer.weight.abs() < 0.1] = 0.0  # some pruned synapses must not count
    x = _sparse((4, 12), 0.3, 0)
    ops, spiking = stateless_ops(x, layer)
    assert spiking
    assert ops == _brute_dense(x, layer.weight)
    dense, _ = stateless_ops(x, layer, total=True)
    assert dense == 4 * 12 * 5


def test_conv2d_ops_match_brute_force_with_padding_and_stride() -> None:
    layer = nn.Conv2d(2, 3, 3, padding=1, stride=2)
    with torch.no_grad():
        layer.weight[:, 0, 0, 0] = 0.0
    x = _sparse((2, 2, 7, 7), 0.25, 1)
    ops, spiking = stateless_ops(x, layer)
    assert spiking and ops == _brute_conv2d(x, layer.weight, 1, 2)


def test_analog_input_is_counted_as_macs_not_acs() -> None:
    layer = nn.Linear(6, 4)
    x = _sparse((3, 6), 0.5, 2, binary=False)
    ops, spiking = stateless_ops(x, layer)
    assert not spiking and ops == _brute_dense(x, layer.weight)


@pytest.mark.parametrize("kind", ["linear", "conv1d", "conv2d", "analog"])
def test_stateless_ops_equal_neurobench(kind: str) -> None:
    layers = pytest.importorskip("neurobench.metrics.utils.layers")
    torch.manual_seed(0)
    layer, x = {
        "linear": (nn.Linear(10, 7), _sparse((5, 10), 0.4, 3)),
        "conv1d": (nn.Conv1d(3, 4, 3, padding=1), _sparse((2, 3, 9), 0.4, 4)),
        "conv2d": (nn.Conv2d(2, 4, 3, stride=2), _sparse((2, 2, 8, 8), 0.4, 5)),
        "analog": (nn.Linear(10, 7), _sparse((5, 10), 0.4, 6, binary=False)),
    }[kind]
    for total in (False, True):
        ours, spiking = stateless_ops(x, layer, total=total)
        ref, ref_spiking = layers.single_layer_MACs(x, layer, total=total)
        assert ours == float(ref) and spiking == ref_spiking


def test_relpsp_dense_events_are_input_spikes_times_fan_out() -> None:
    layer = RelPspDense(8, 5, t_max=4.0)
    with torch.no_grad():
        layer.weight[0, :2] = 0.0
    t_in = torch.full((3, 8), 4.0)  # t_max: no spike
    t_in[0, [0, 3]] = 0.2
    t_in[2, 5] = 0.9
    events = (t_in < layer.t_max).float()
    assert event_ops(events, layer) == _brute_dense(events, layer.weight.t())


def test_relpsp_conv_events_match_brute_force() -> None:
    layer = RelPspConv2d(2, 3, (3, 3), padding=(1, 1))
    events = _sparse((2, 2, 5, 5), 0.3, 7)
    w = layer.weight.detach().t().reshape(3, 2, 3, 3)  # im2col rows are (channel, ky, kx)
    assert event_ops(events, layer) == _brute_conv2d(events, w, 1, 1)


def test_resonate_dense_events_match_brute_force() -> None:
    layer = ResonateDense(6, 4)
    events = _sparse((3, 6), 0.5, 8)
    assert event_ops(events, layer) == _brute_dense(events, layer.weight)


def _loader(x: torch.Tensor) -> DataLoader:
    return DataLoader(TensorDataset(x, torch.zeros(len(x), dtype=torch.long)), batch_size=2)


def test_relpsp_network_spikes_latency_and_ops() -> None:
    torch.manual_seed(0)
    hidden, out = RelPspDense(6, 5, t_max=4.0, mean=2.0), RelPspDense(5, 3, t_max=4.0, mean=2.0)
    net = nn.Sequential(hidden, out)
    t_in = torch.rand(4, 6)
    t_in[:, 0] = 4.0  # one input never spikes
    m = measure(net, _loader(t_in), torch.device("cpu"))
    with torch.no_grad():
        th = hidden(t_in)
        to = out(th)
    spikes = float((th < 4).sum() + (to < 4).sum()) / 4
    assert m["spikes_per_sample"] == pytest.approx(spikes)
    ev_in, ev_h = (t_in < 4).float(), (th < 4).float()
    acs = _brute_dense(ev_in, hidden.weight.t()) + _brute_dense(ev_h, out.weight.t())
    assert m["effective_acs"] == pytest.approx(acs / 4)
    assert m["effective_macs"] == 0
    first = torch.where(to < 4, to, torch.inf).min(1).values
    assert m["latency"] == pytest.approx(float(first[torch.isfinite(first)].mean()))
    assert m["latency_unit"] == "input windows"
    assert m["activation_sparsity"] == pytest.approx(1 - spikes * 4 / (4 * 8))


class _ClockedNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.lif1, self.fc2, self.lif2 = nn.Linear(5, 6), LIF(), nn.Linear(6, 3), LIF()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [B, T, 5] -> [T, B, 5]
        s = self.lif1(self.fc1(x.transpose(0, 1)))
        return self.lif2(self.fc2(s)).sum(0)


def test_clocked_network_counts_spikes_and_first_output_step() -> None:
    torch.manual_seed(1)
    net = _ClockedNet()
    with torch.no_grad():
        net.fc1.weight.mul_(4)
        net.fc2.weight.mul_(4)
    x = _sparse((4, 7, 5), 0.6, 9)
    m = measure(net, _loader(x), torch.device("cpu"))
    with torch.no_grad():
        s1 = net.lif1(net.fc1(x.transpose(0, 1)))
        s2 = net.lif2(net.fc2(s1))
    assert m["spikes_per_sample"] == pytest.approx(float(s1.sum() + s2.sum()) / 4)
    acs = sum(_brute_dense(x.transpose(0, 1)[t], net.fc1.weight) for t in range(7))
    acs += sum(_brute_dense(s1[t], net.fc2.weight) for t in range(7))
    assert m["effective_acs"] == pytest.approx(acs / 4)
    assert m["latency"] == 7 and m["latency_unit"] == "steps"
    fired = s2.flatten(2).any(-1)  # [T, B]
    steps = [int(fired[:, b].nonzero()[0]) + 1 for b in range(4) if fired[:, b].any()]
    assert steps, "the test network must fire at its output"
    assert m["first_output_spike"] == pytest.approx(sum(steps) / len(steps))


def test_footprint_counts_parameters_and_buffers() -> None:
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    # 3*4 + 4 weights/bias, 4 + 4 affine, running mean/var 4 + 4 (float32), num_batches_tracked (int64)
    assert footprint(net) == (12 + 4 + 8) * 4 + 8 * 4 + 8


def test_a_model_without_spiking_layers_is_refused() -> None:
    with pytest.raises(ValueError, match="no spiking population"):
        measure(nn.Linear(2, 2), _loader(torch.zeros(2, 2)), torch.device("cpu"))


def test_resonate_latency_is_per_network_not_per_batch() -> None:
    """The RSN latency sums each layer's collecting window once, however many batches are measured."""
    torch.manual_seed(0)
    net = nn.Sequential(ResonateDense(6, 5), ResonateDense(5, 3))
    z = torch.randn(8, 2, 6)  # loader yields [B, 2, 6]; the net takes [2, B, 6]

    class Phasors(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x.transpose(0, 1))

    model = Phasors()
    one = measure(
        model, DataLoader(TensorDataset(z, torch.zeros(8, dtype=torch.long)), batch_size=8), torch.device("cpu")
    )
    four = measure(model, _loader(z), torch.device("cpu"))  # batches of 2
    windows = sum(layer.window / layer.period for layer in net)
    assert one["latency"] == four["latency"] == pytest.approx(windows + 1.0)
    assert one["latency_unit"] == "periods"
    assert four["spikes_per_sample"] == pytest.approx(one["spikes_per_sample"])
