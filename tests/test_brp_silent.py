"""Silent-neuron analysis (BRP Fig. 8) and the ``frames`` encoder (Eq. 3 on frame sequences)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from snnrepro.analyses.silent import scale_to_density, spike_probabilities
from snnrepro.encoders.frames import Frames
from snnrepro.models.brp import build
from snnrepro.registry import ANALYSES, ENCODERS


def _model(encoder: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    net = build("FC20-FC30-FC3", (16,), 3)
    with torch.no_grad():  # excitatory network: more input spikes -> fewer silent neurons, monotonically
        for block in net.blocks:
            block.weights.weight.uniform_(0.0, 0.25)
            block.weights.bias.zero_()
    model = nn.Sequential()
    model.add_module("encoder", encoder)
    model.add_module("net", net)
    return model


def test_silent_proportions_fall_as_input_spikes_grow(tmp_path):
    x = torch.rand(40, 16) * 0.8 + 0.2
    loader = DataLoader(TensorDataset(x, torch.zeros(40, dtype=torch.long)), batch_size=20)
    model = _model(ENCODERS.get("rate")(T=10, i_rd=1.0))
    out = ANALYSES.get("silent_neurons")(model, loader, torch.device("cpu"), tmp_path, proportions=[0.0, 0.1, 0.4, 1.0])
    assert out["fc1@0.00"] == 1.0 and out["fc2@0.00"] == 1.0  # no input spike: every neuron is silent
    assert out["fc1@0.00"] >= out["fc1@0.10"] >= out["fc1@0.40"] >= out["fc1@1.00"]
    assert out["fc1@1.00"] < 0.5
    assert out["input_density@0.40"] == pytest.approx(0.4 * out["input_density@1.00"], rel=0.15)
    table = pd.read_csv(tmp_path / "silent_neurons.csv")
    columns = ["mode", "input_spike_proportion", "input_spike_density", "layer", "silent_proportion"]
    assert list(table.columns) == columns
    assert len(table) == 4 * 2 and set(table.layer) == {"fc1 (FC20)", "fc2 (FC30)"}
    assert (tmp_path / "silent_neurons.png").stat().st_size > 1000


def test_silent_neurons_by_hand(tmp_path):
    """One input neuron drives one hidden neuron (weight 1 > V_th) and another one with weight 0: 50 % silent."""
    net = build("FC2-FC2", (1,), 2)
    with torch.no_grad():
        net.blocks[0].weights.weight.copy_(torch.tensor([[1.0], [0.0]]))
        net.blocks[0].weights.bias.zero_()
    model = nn.Sequential()
    model.add_module("encoder", ENCODERS.get("events")())
    model.add_module("net", net)
    x = torch.ones(4, 5, 1)  # [B, T, 1]: the input fires every step
    loader = DataLoader(TensorDataset(x, torch.zeros(4, dtype=torch.long)), batch_size=4)
    out = ANALYSES.get("silent_neurons")(model, loader, torch.device("cpu"), tmp_path, proportions=[0.0, 1.0])
    assert out["fc1@0.00"] == 1.0 and out["fc1@1.00"] == 0.5


def test_density_mode_reaches_the_requested_density(tmp_path):
    x = torch.rand(30, 16)
    loader = DataLoader(TensorDataset(x, torch.zeros(30, dtype=torch.long)), batch_size=30)
    model = _model(ENCODERS.get("rate")(T=20, i_rd=1.0))
    out = ANALYSES.get("silent_neurons")(
        model, loader, torch.device("cpu"), tmp_path, proportions=[0.05, 0.2], mode="density"
    )
    assert out["input_density@0.05"] == pytest.approx(0.05, abs=0.01)
    assert out["input_density@0.20"] == pytest.approx(0.20, abs=0.015)


def test_scale_to_density():
    p = torch.tensor([0.0, 0.1, 0.2, 0.4, 0.0, 0.0, 0.0, 0.0])
    assert scale_to_density(p, 0.1).mean().item() == pytest.approx(0.1, abs=1e-6)
    assert torch.equal(scale_to_density(p, 0.0), torch.zeros(8))
    assert torch.equal(scale_to_density(p, 0.6), (p > 0).float())  # out of reach: every non-zero input


def test_spike_probabilities_of_rate_and_frames():
    x = torch.tensor([[0.05, 0.5, 1.0]])
    rate = ENCODERS.get("rate")(T=4, i_rd=0.1)
    assert torch.allclose(spike_probabilities(rate, x), torch.tensor([[0.5, 1.0, 1.0]]).expand(4, 1, 3))
    frames = Frames(T=2, i_rd=0.5)
    seq = torch.tensor([[[0.1, 0.4], [0.6, 0.0], [1.0, 1.0]]])  # [B=1, F=3, 2]
    assert torch.allclose(spike_probabilities(frames, seq), torch.tensor([[[0.2, 0.8]], [[1.0, 0.0]]]))


def test_analysis_errors(tmp_path):
    loader = DataLoader(TensorDataset(torch.rand(2, 16), torch.zeros(2, dtype=torch.long)), batch_size=2)
    model = _model(ENCODERS.get("rate")(T=2))
    with pytest.raises(ValueError, match="mode must be one of"):
        ANALYSES.get("silent_neurons")(model, loader, torch.device("cpu"), tmp_path, mode="sparse")
    with pytest.raises(ValueError, match="proportions must lie in"):
        ANALYSES.get("silent_neurons")(model, loader, torch.device("cpu"), tmp_path, proportions=[1.5])


# --------------------------------------------------------------------------- frames encoder
def test_frames_encoder_feeds_frame_t_at_step_t_with_eq3():
    torch.manual_seed(0)
    seq = torch.zeros(1, 6, 5)
    seq[:, 1] = 0.05  # with I_rd = 0.1 these spike with probability 0.5
    seq[:, 2] = 1.0  # always
    enc = Frames(T=4, i_rd=0.1)
    out = enc(seq.expand(2000, -1, -1).contiguous())
    assert out.shape == (4, 2000, 5)
    assert out[0].sum() == 0 and out[3].sum() == 0 and torch.all(out[2] == 1)
    assert out[1].mean().item() == pytest.approx(0.5, abs=0.02)


def test_frames_encoder_merges_and_binarizes_dvs_frames():
    frames = torch.tensor([[[[[0.0]], [[2.0]]], [[[0.0]], [[0.0]]]]])  # [B=1, F=2, C=2, 1, 1]
    out = Frames(merge_channels=True, binarize=True)(frames)
    assert out.shape == (2, 1, 1, 1, 1) and out.flatten().tolist() == [1.0, 0.0]


def test_frames_encoder_reads_audio_features_with_time_last():
    feats = torch.arange(12.0).view(1, 1, 3, 4)  # [B, 1, bands=3, frames=4]
    out = Frames(T=2, time_axis=-1)(feats)
    assert out.shape == (2, 1, 1, 3)
    assert out[1, 0, 0].tolist() == [1.0, 5.0, 9.0]  # frame 1 = every band at time index 1


def test_frames_encoder_errors():
    with pytest.raises(ValueError, match="only 3 frames"):
        Frames(T=5)(torch.zeros(1, 3, 2))
    with pytest.raises(ValueError, match="T must be"):
        Frames(T=0)
    with pytest.raises(ValueError, match="i_rd must be positive"):
        Frames(i_rd=0.0)
    with pytest.raises(ValueError, match="merge_channels"):
        Frames(merge_channels=True)(torch.zeros(1, 3))
