"""Trained runs leave the toolkit: ``eval`` reproduces the record, safetensors and NIR round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import digits_spec
from typer.testing import CliRunner

from snnrepro.cli import app
from snnrepro.engine.evaluate_run import build_model, evaluate_run, load_run, parse_run
from snnrepro.engine.fit import fit
from snnrepro.export import ExportRefused, export_run, read_safetensors, to_nir
from snnrepro.results.record import checkpoint_path
from snnrepro.spec import deep_merge, resolve

nir = pytest.importorskip("nir")

CPU = torch.device("cpu")
LIF_RAW = {
    "id": "digits-lif-export",
    "paper": "bpsta",
    "table": "Table 1",
    "row": "export test",
    "reported": 90.0,
    "dataset": {"name": "digits", "params": {"size": 8}},
    "encoder": {"name": "direct", "params": {"T": 4}},
    "model": {"family": "lif", "arch": "64-32-10", "params": {"relu": False, "decay": 0.8, "gradient": "baseline"}},
    "optimizer": {"name": "adam", "lr": 0.01},
    "train": {"epochs": 1, "batch_size": 64, "eval_batch_size": 512, "seeds": 1},
}


def lif_spec(**over: object):
    return resolve(deep_merge(LIF_RAW, over), where="export-test.yaml")


@pytest.fixture(scope="module")
def lif_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One epoch of a tiny LIF MLP on digits; returns the results folder."""
    root = tmp_path_factory.mktemp("lif")
    rec = fit(lif_spec(), 0, CPU, root, root / "data")
    assert rec.status == "ok"
    return root


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One epoch of a tiny conv LIF net (Conv-BN, average pooling) on digits."""
    root = tmp_path_factory.mktemp("conv")
    spec = lif_spec(id="digits-lif-conv", model={"arch": "4C3-AP2-10", "params": {"bn": True}})
    assert fit(spec, 0, CPU, root, root / "data").status == "ok"
    return root


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


# --------------------------------------------------------------------------- eval
def test_eval_reproduces_the_records_final_accuracy(lif_run: Path) -> None:
    record = json.loads((lif_run / "runs/digits-lif-export/full/seed-0.json").read_text())
    assert record["test_acc"] > 0.3  # a model that learnt something, not a silent one (all ties: 0 %)
    out = evaluate_run("digits-lif-export", lif_run, lif_run / "data", CPU)
    assert out["test_acc"] == record["test_acc"] and out["samples"] == 360 and out["epoch"] == 1
    assert out["test_loss"] == pytest.approx(record["history"][-1]["test_loss"], rel=1e-6)
    ckpt = checkpoint_path(lif_run, "digits-lif-export", "full", 0)
    by_path = evaluate_run(ckpt, lif_run, lif_run / "data", CPU)
    assert by_path["test_acc"] == record["test_acc"]


def test_eval_cli_json_and_text(lif_run: Path) -> None:
    record = json.loads((lif_run / "runs/digits-lif-export/full/seed-0.json").read_text())
    res = invoke("eval", "digits-lif-export:full:0", "--results", str(lif_run), "--data-root", str(lif_run / "data"),
                 "--device", "cpu", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["test_acc"] == record["test_acc"]
    text = invoke("eval", "digits-lif-export", "--results", str(lif_run), "--data-root", str(lif_run / "data"))
    assert text.exit_code == 0 and f"{100 * record['test_acc']:.2f} %" in text.stdout


def test_eval_on_another_dataset_checks_the_sample_shape(lif_run: Path) -> None:
    with pytest.raises(ValueError, match="trained on"):
        evaluate_run("digits-lif-export", lif_run, lif_run / "data", CPU, dataset="digits", dataset_params={"size": 9})
    out = evaluate_run("digits-lif-export", lif_run, lif_run / "data", CPU, dataset="digits",
                       dataset_params={"size": 8})
    assert out["dataset"] == "digits" and out["samples"] == 360 and 0.0 <= out["test_acc"] <= 1.0


def test_run_references_and_missing_runs(lif_run: Path) -> None:
    assert parse_run("x") == ("x", "full", 0) and parse_run("x:quick:3") == ("x", "quick", 3)
    with pytest.raises(ValueError, match="profile"):
        parse_run("x:huge")
    res = invoke("eval", "digits-lif-export:full:7", "--results", str(lif_run))
    assert res.exit_code == 2 and "no checkpoint" in res.output


# --------------------------------------------------------------------------- safetensors
def test_safetensors_round_trip_gives_identical_tensors(lif_run: Path, tmp_path: Path) -> None:
    info = export_run("digits-lif-export", "safetensors", tmp_path / "w.safetensors", lif_run)
    tensors, spec, prov = read_safetensors(Path(info["path"]))
    state = load_run("digits-lif-export", lif_run).model_state
    assert set(tensors) == set(state) and tensors
    for k, v in state.items():
        assert tensors[k].dtype == v.dtype and torch.equal(tensors[k], v), k
    assert spec["id"] == "digits-lif-export" and spec["model"]["arch"] == "64-32-10"
    assert prov["seed"] == 0 and prov["spec_hash"] == lif_spec().hash() and prov["git_commit"]


# --------------------------------------------------------------------------- NIR, lif family
def _nir_chain(graph) -> list:
    """Nodes of a sequential graph from input to output."""
    nxt = dict(graph.edges)
    name = next(n for n, node in graph.nodes.items() if isinstance(node, nir.Input))
    out = [graph.nodes[name]]
    while name in nxt:
        name = nxt[name]
        out.append(graph.nodes[name])
    return out


def _simulate(chain: list, x: np.ndarray) -> np.ndarray:
    """A numpy reference of the sequential NIR graph (forward Euler, dt = 1, hard reset): spikes [T, N]."""
    state: dict[int, np.ndarray] = {}
    out = []
    for xt in x.astype(np.float64):
        h = xt
        for i, node in enumerate(chain):
            if isinstance(node, nir.Flatten):
                h = h.reshape(-1)
            elif isinstance(node, nir.Affine):
                h = node.weight.astype(np.float64) @ h + node.bias
            elif isinstance(node, nir.Linear):
                h = node.weight.astype(np.float64) @ h
            elif isinstance(node, nir.LIF):
                v = state.get(i, np.zeros_like(h))
                v = v + (node.v_leak - v + node.r * h) / node.tau
                z = v > node.v_threshold
                state[i] = np.where(z, node.v_reset, v)
                h = z.astype(np.float64)
        out.append(h)
    return np.stack(out)


def test_nir_round_trip_of_a_lif_mlp_and_its_spikes(lif_run: Path, tmp_path: Path) -> None:
    info = export_run("digits-lif-export", "nir", tmp_path / "g.nir", lif_run)
    graph = nir.read(info["path"])
    chain = _nir_chain(graph)
    assert [type(n).__name__ for n in chain] == ["Input", "Flatten", "Affine", "LIF", "Affine", "LIF", "Output"]
    run = load_run("digits-lif-export", lif_run)
    state = run.model_state
    np.testing.assert_array_equal(chain[2].weight, state["net.body.1.module.weight"].numpy())
    np.testing.assert_array_equal(chain[2].bias, state["net.body.1.module.bias"].numpy())
    np.testing.assert_array_equal(chain[4].weight, state["net.body.3.module.weight"].numpy())
    assert np.allclose(chain[3].tau, 1 / (1 - 0.8)) and np.allclose(chain[3].r, chain[3].tau)
    assert np.all(chain[3].v_threshold == 0.5) and chain[5].tau.shape == (10,)
    assert graph.metadata["dt"] == 1.0
    # simulate the graph on one test image; the model's output-layer spikes must be the same
    model = build_model(run)
    from snnrepro.data.vision.digits import DigitsSource

    x = DigitsSource().load(lif_run / "data", download=False, size=8).test[0][0].unsqueeze(0)
    spikes: list[torch.Tensor] = []
    for i in (2, 4):  # the hidden and the output LIF layer
        model.net.body[i].register_forward_hook(lambda m, inp, o: spikes.append(o.detach()[:, 0].numpy()))
    with torch.no_grad():
        model(x)
    seq = np.repeat(x.numpy(), 4, axis=0)  # the direct encoder: the image at each of T = 4 steps
    hidden, output = _simulate(chain[1:4], seq), _simulate(chain[1:-1], seq)
    assert output.shape == spikes[1].shape == (4, 10)
    np.testing.assert_array_equal(hidden, spikes[0])
    np.testing.assert_array_equal(output, spikes[1])
    assert spikes[0].sum() > 0 and spikes[1].sum() > 0  # not trivially silent


def test_nir_of_a_conv_net_folds_batch_norm(conv_run: Path, tmp_path: Path) -> None:
    info = export_run("digits-lif-conv", "nir", tmp_path / "c.nir", conv_run)
    chain = _nir_chain(nir.read(info["path"]))
    names = [type(n).__name__ for n in chain]
    assert names == ["Input", "Conv2d", "LIF", "AvgPool2d", "Flatten", "Affine", "LIF", "Output"]
    model = build_model(load_run("digits-lif-conv", conv_run))
    block = model.net.body[0].module  # Conv2d -> BatchNorm2d
    x = torch.rand(3, 1, 8, 8)
    conv = chain[1]
    folded = torch.nn.functional.conv2d(x, torch.from_numpy(conv.weight), torch.from_numpy(conv.bias),
                                        padding=tuple(conv.padding))
    with torch.no_grad():
        assert torch.allclose(folded, block(x), atol=1e-5)
    assert tuple(chain[3].kernel_size) == (2, 2) and tuple(chain[2].v_threshold.shape) == (4, 8, 8)


def test_nir_refuses_what_it_cannot_express(tmp_path: Path) -> None:
    from snnrepro.registry import MODELS

    relu_net = MODELS.get("lif")("4C3-10", (1, 8, 8), 10, relu=True)
    with pytest.raises(ExportRefused, match="ReLU"):
        to_nir(relu_net, "lif", (1, 8, 8))
    maxpool = MODELS.get("lif")("4C3-MP2-10", (1, 8, 8), 10, relu=False)
    with pytest.raises(ExportRefused, match="max pooling"):
        to_nir(maxpool, "lif", (1, 8, 8))
    soft = MODELS.get("lif")("64-10", (1, 8, 8), 10, relu=False, reset="soft")
    with pytest.raises(ExportRefused, match="reset 'soft'"):
        to_nir(soft, "lif", (1, 8, 8))
    for family in ("relpsp", "resonate", "brp"):
        with pytest.raises(ExportRefused, match=f"^cannot export to NIR: {family}"):
            to_nir(torch.nn.Identity(), family, (1, 8, 8))


def test_export_cli_refuses_a_family_nir_cannot_express(spec_env, tmp_path: Path) -> None:
    spec_env(digits_spec("digits-relu-export", epochs=1))
    assert invoke("run", "digits-relu-export", "--device", "cpu").exit_code == 0
    res = invoke("export", "digits-relu-export", "--format", "nir")
    assert res.exit_code == 2 and "cannot export to NIR: relu" in res.output
    assert len([ln for ln in res.output.splitlines() if ln.strip()]) == 1
    ok = invoke("export", "digits-relu-export", "--format", "safetensors", "--out", str(tmp_path / "r.safetensors"))
    assert ok.exit_code == 0 and (tmp_path / "r.safetensors").is_file()


# --------------------------------------------------------------------------- NIR, iir family
def _iir(**params: object):
    from snnrepro.registry import MODELS

    base = {"preset": "dual_exp", "tau_m": 4.0, "tau_s": 1.0, "delay": 1, "train_kernel": False}
    return MODELS.get("iir")("64-16-10", (1, 8, 8), 10, **{**base, **params})


def test_nir_of_an_iir_net_is_cubalif_with_the_dual_exp_time_constants(tmp_path: Path) -> None:
    net = _iir()
    path = tmp_path / "iir.nir"
    nir.write(str(path), to_nir(net, "iir", (1, 8, 8)))
    chain = _nir_chain(nir.read(str(path)))
    names = [type(n).__name__ for n in chain]
    assert names == ["Input", "Flatten", "Linear", "Delay", "CubaLIF", "Linear", "Delay", "CubaLIF", "Output"]
    pm, ps = np.exp(-1 / 4.0), np.exp(-1 / 1.0)
    cuba = chain[4]
    assert np.allclose(cuba.tau_mem, 1 / (1 - pm)) and np.allclose(cuba.tau_syn, 1 / (1 - ps))
    assert np.allclose(cuba.r, (pm - ps) * cuba.tau_mem * cuba.tau_syn) and np.all(cuba.v_threshold == 1.0)
    np.testing.assert_array_equal(chain[2].weight, net.stages[1].weights.op.weight.detach().numpy())
    assert np.all(chain[3].delay == 1.0) and cuba.tau_mem.shape == (16,)


def test_iir_cubalif_membrane_equals_the_iir_membrane_below_threshold() -> None:
    """With the documented Euler discretisation the CubaLIF membrane is the IIR membrane (no spikes)."""
    from snnrepro.neurons.iir import iir_neuron

    net = _iir()
    layer = net.stages[1]
    p = to_nir(net, "iir", (1, 8, 8)).nodes["cubalif"]
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(12, 1, 64, generator=g) < 0.3).float()
    with torch.no_grad():
        _, v_iir = iir_neuron(layer.current(x), 0.0, layer.neuron.theta, 1e9, return_membrane=True)
    w = layer.weights.op.weight.detach().double().numpy()
    i_syn = np.zeros(16)
    v = np.zeros(16)
    prev = np.zeros(64)  # Delay(1): the weights see the input one step late
    for t in range(12):
        drive = w @ prev
        prev = x[t, 0].double().numpy()
        i_syn = i_syn + (-i_syn + p.w_in * drive) / p.tau_syn
        v = v + (p.v_leak - v + p.r * i_syn) / p.tau_mem
        np.testing.assert_allclose(v, v_iir[t, 0].double().numpy(), rtol=1e-4, atol=1e-5)


def test_nir_refuses_iir_layers_cubalif_cannot_express() -> None:
    trained = _iir(train_kernel=True)
    with torch.no_grad():
        trained.stages[1].synapse.alpha_direct[0, 3] += 0.01  # one axon's kernel trained away from the rest
    with pytest.raises(ExportRefused, match="differs between input axons"):
        to_nir(trained, "iir", (1, 8, 8))
    with pytest.raises(ExportRefused, match="tau_r = tau_m"):
        to_nir(_iir(tau_r=2.0), "iir", (1, 8, 8))
    with pytest.raises(ExportRefused, match="order 0"):
        to_nir(_iir(preset="lif"), "iir", (1, 8, 8))
    with pytest.raises(ExportRefused, match="bias"):
        to_nir(_iir(bias=True), "iir", (1, 8, 8))
