"""The ``brp`` model family: Table II topologies, Eq. 2 dynamics against the authors' update, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from snnrepro.models.arch import ArchError, Conv, Dense, Pool, parse_arch
from snnrepro.models.brp import SpikingCNN, build
from snnrepro.registry import MODELS


def test_parser_reads_table_ii_notation():
    assert parse_arch("Conv5x5x28-FC1000-FC10") == [Conv(28, (5, 5)), Dense(1000), Dense(10)]
    assert parse_arch("Conv5x5x32-S2-FC1000-FC10") == [Conv(32, (5, 5)), Pool("avg", 2), Dense(1000), Dense(10)]
    assert parse_arch("Conv1x3x100-S1-FC1000-FC10") == [Conv(100, (1, 3)), Pool("avg", 1), Dense(1000), Dense(10)]


@pytest.mark.parametrize(
    ("arch", "shape", "time_axis", "classes", "hidden"),
    [
        ("Conv5x5x28-FC1000-FC10", (1, 28, 28), None, 10, [(28, 28, 28), (1000,)]),  # MNIST
        ("Conv5x5x32-S2-FC1000-FC10", (3, 32, 32), None, 10, [(32, 32, 32), (1000,)]),  # CIFAR10
        ("Conv1x3x100-S1-FC1000-FC10", (1, 30, 30), -1, 10, [(100, 1, 30), (1000,)]),  # TIDIGITS 1-D kernels
        ("Conv5x5x32-S2-FC1000-FC10", (1, 30, 30), None, 10, [(32, 30, 30), (1000,)]),  # TIDIGITS 2-D kernels
        ("Conv5x5x32-S2-FC1000-FC11", (100, 2, 32, 32), 0, 11, [(32, 32, 32), (1000,)]),  # DVS-Gesture frames
    ],
)
def test_table_ii_topologies_build_and_run(arch, shape, time_axis, classes, hidden):
    with torch.device("meta"):
        net = MODELS.get("brp")(arch, shape, classes, time_axis=time_axis)
    assert isinstance(net, SpikingCNN)
    assert net.hidden_shapes() == hidden
    assert len(net.layer_names()) == len(hidden)


def test_pooling_sizes_for_2d_and_1d_maps():
    net = build("Conv5x5x32-S2-FC1000-FC10", (3, 32, 32), 10)
    assert net.blocks[1].weights.in_features == 32 * 16 * 16
    net1d = build("Conv1x3x100-S3-FC1000-FC10", (1, 30, 30), 10, time_axis=-1)  # 1-D map: pooling 1 x 3
    assert net1d.blocks[1].weights.in_features == 100 * 10
    x = (torch.rand(30, 2, 1, 30) < 0.3).float()
    assert net1d(x).shape == (2, 10)


def test_lif_constants_are_the_papers():
    net = build("Conv5x5x28-FC1000-FC10", (1, 28, 28), 10)
    for block in net.blocks:
        cfg = block.neuron.cfg
        assert (cfg.decay, cfg.threshold, cfg.v_reset, cfg.reset, cfg.refractory) == (0.2, 0.5, 0.0, "hard", 0)
        assert cfg.surrogate.name == "rectangular" and cfg.surrogate.params() == {"width": 1.0}
        assert not cfg.detach_reset


def test_forward_is_the_authors_update_step_by_step():
    """u_t = 0.2 u_{t-1} (1 - o_{t-1}) + W x_t ; o_t = [u_t > 0.5]; output = spike count / T (independent loop)."""
    torch.manual_seed(0)
    net = build("Conv3x3x4-S2-FC7-FC3", (1, 6, 6), 3)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
        net.blocks[2].weights.weight.uniform_(0.0, 0.4)  # an output layer that fires
    x = (torch.rand(9, 2, 1, 6, 6) < 0.5).float()
    conv, fc1, fc2 = (b.weights for b in net.blocks)

    def lif(inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        u = torch.zeros_like(inputs[0])
        o = torch.zeros_like(inputs[0])
        out = []
        for cur in inputs:
            u = 0.2 * u * (1 - o) + cur
            o = (u > 0.5).float()
            out.append(o)
        return out

    with torch.no_grad():
        s1 = lif([conv(x[t]) for t in range(9)])
        s2 = lif([fc1(F.avg_pool2d(s, 2).flatten(1)) for s in s1])
        s3 = lif([fc2(s) for s in s2])
        expected = torch.stack(s3).mean(0)
        with net.record_hidden(detach_inputs=False) as hs:
            got = net(x)
    assert torch.equal(got, expected)
    assert torch.equal(hs[0], torch.stack(s1)) and torch.equal(hs[1], torch.stack(s2))
    assert got.sum() > 0


def test_refractory_is_a_parameter():
    net = build("FC5-FC3", (4,), 3, refractory=1)
    assert all(b.neuron.cfg.refractory == 1 for b in net.blocks)


@pytest.mark.parametrize(
    ("arch", "shape", "kwargs", "match"),
    [
        ("Conv5x5x28-FC1000-FC3", (1, 28, 28), {}, "dataset has 10 classes"),
        ("Conv5x5x28-FC1000", (1, 28, 28), {"padding": "full"}, "padding"),
        ("Conv5x5x28", (1, 28, 28), {}, "dense output layer"),
        ("S2-FC10", (1, 28, 28), {}, "pooling must follow a convolution"),
        ("FC100-Conv3x3x4-FC10", (1, 28, 28), {}, "convolution after a dense layer"),
        ("Conv9x9x4-FC10", (1, 4, 4), {"padding": "valid"}, "does not fit"),
        ("Conv3x3x4-S8-FC10", (1, 4, 4), {}, "does not fit"),
        ("FC20-10Voting", (1, 4, 4), {}, "dense output layer"),
        ("FC10", (1, 4, 4), {"time_axis": 3}, "time_axis 3"),
    ],
)
def test_arch_errors(arch, shape, kwargs, match):
    with pytest.raises(ArchError, match=match):
        build(arch, shape, 10, **kwargs)


def test_encoder_output_must_have_time():
    net = build("FC5-FC3", (4,), 3)
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        net(torch.zeros(2, 4)[0])
