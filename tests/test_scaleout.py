"""Scale-out and survival: torchrun DDP on CPU (gloo), executors, concurrent writers, kill -9 + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import torch
from conftest import digits_spec
from torch.utils.data import TensorDataset

from snnrepro.data.vision.digits import DigitsSource
from snnrepro.engine import distributed as ddp
from snnrepro.engine.build import build
from snnrepro.engine.fit import ProgressSink, fit
from snnrepro.engine.loaders import train_loader
from snnrepro.engine.seeding import CUBLAS_WORKSPACE, seed_everything
from snnrepro.results.record import RunRecord, iter_records, record_path, write_record
from snnrepro.results.tables import rebuild_all
from snnrepro.run.executors import run_local, run_slurm
from snnrepro.run.plan import Job
from snnrepro.spec import resolve

SPEC = digits_spec("digits-relu-scale", arch="64-64-10", epochs=3)


@pytest.fixture
def env(spec_env, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return spec_env(SPEC, digits_spec("digits-relu-slow", arch="64-64-10", epochs=40, batch_size=8))


def _cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnrepro", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env_extra or {})})


#: one training step of the engine's model (``engine.build.build`` with the torchrun process group) on this rank's
#: half of a fixed global batch of 16 digits; saves the gradients and parameters after the step.  Rank 1 is
#: initialised with another seed: DDP's broadcast of rank 0's weights must undo that.
DDP_WORKER = """
import json, sys
from pathlib import Path
import torch
from snnrepro.data.vision.digits import DigitsSource
from snnrepro.engine import distributed as ddp
from snnrepro.engine.build import build
from snnrepro.engine.seeding import seed_everything
from snnrepro.spec import resolve

spec = resolve(json.loads(sys.argv[1]), where="ddp-worker")
info = ddp.from_env()
assert info.world == 2
device = ddp.setup(info, torch.device("cpu"))
bundle = DigitsSource().load(Path("."), False, size=8)
x = torch.stack([bundle.train[i][0] for i in range(16)])
y = torch.tensor([int(bundle.train[i][1]) for i in range(16)])
seed_everything(info.rank)
b = build(spec, bundle, device, info)
half = slice(8 * info.rank, 8 * info.rank + 8)
b.rule.step(x[half], y[half], b.optimizer, spec.train.grad_clip)
torch.save({"grads": {n: p.grad.clone() for n, p in b.model.named_parameters()},
            "params": {n: p.detach().clone() for n, p in b.model.named_parameters()}},
           Path(sys.argv[2]) / f"rank{info.rank}.pt")
torch.distributed.destroy_process_group()
"""


def _one_step(spec_raw: dict, x: torch.Tensor, y: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
    """The single-process reference: same spec, same seed-0 initialisation, one step on (x, y)."""
    spec = resolve(spec_raw, where="t")
    seed_everything(0)
    b = build(spec, DigitsSource().load(Path("."), False, size=8), torch.device("cpu"))
    b.rule.step(x, y, b.optimizer, spec.train.grad_clip)
    return {"grads": {n: p.grad.clone() for n, p in b.model.named_parameters()},
            "params": {n: p.detach().clone() for n, p in b.model.named_parameters()}}  # fmt: skip


def test_ddp_gradients_equal_single_process_gradients_on_the_same_global_batch(env: dict[str, Path]) -> None:
    """torchrun, 2 gloo processes on CPU: after DDP's all-reduce each rank holds the gradient of the global batch.

    Each rank computes its loss on 8 of 16 samples; the averaged gradients (and the parameters after one Adam
    step) must equal those of one process on all 16, on both ranks.  Without the all-reduce every rank would
    keep the gradient of its own half, which differs from the global one (checked too).
    """
    script = env["tmp"] / "ddp_worker.py"
    script.write_text(DDP_WORKER)
    out = env["tmp"] / "ddp_out"
    out.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script),
           json.dumps(SPEC), str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    train = DigitsSource().load(Path("."), False, size=8).train
    x = torch.stack([train[i][0] for i in range(16)])
    y = torch.tensor([int(train[i][1]) for i in range(16)])
    ref = _one_step(SPEC, x, y)
    halves = [_one_step(SPEC, x[:8], y[:8]), _one_step(SPEC, x[8:], y[8:])]
    for rank in (0, 1):
        got = torch.load(out / f"rank{rank}.pt")
        assert got["grads"].keys() == ref["grads"].keys()
        for name, g in ref["grads"].items():
            torch.testing.assert_close(got["grads"][name], g, rtol=1e-5, atol=1e-7, msg=f"rank {rank}: {name}")
            torch.testing.assert_close(got["params"][name], ref["params"][name], rtol=1e-5, atol=1e-7)
    full = torch.cat([g.flatten() for g in ref["grads"].values()])
    for half in halves:  # the check can fail: a rank's own gradient is far from the global one
        local = torch.cat([g.flatten() for g in half["grads"].values()])
        assert (local - full).norm() > 0.1 * full.norm()


def test_distributed_sampler_shards_partition_every_epoch() -> None:
    """The ranks' shards of one epoch are disjoint and cover the training set, with ``batch // world`` per step."""
    ds = TensorDataset(torch.arange(40))
    for epoch in (0, 3):
        shards = []
        for rank in (0, 1):
            loader = train_loader(ds, 4, 7, epoch, ddp.DistInfo(2, rank, rank), 0, False)
            batches = [b[0] for b in loader]
            assert [len(b) for b in batches] == [4] * 5
            shards.append(torch.cat(batches))
        assert sorted(torch.cat(shards).tolist()) == list(range(40))
    assert not torch.equal(shards[0], torch.arange(0, 40, 2))  # shuffled, not strided


def test_torchrun_two_processes_on_cpu_trains_and_records(env: dict[str, Path]) -> None:
    """The CLI under torchrun end to end; the shuffles differ from one process, so accuracies agree only loosely
    (the exact equivalence is the gradient test above)."""
    single = _cli("run", SPEC["id"], "--device", "cpu", "--json", "--results", str(env["tmp"] / "r1"))
    assert single.returncode == 0, single.stderr[-2000:]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "snnrepro",
           "run", SPEC["id"], "--device", "cpu", "--json", "--results", str(env["tmp"] / "r2")]
    ddp = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    rec1 = json.loads((env["tmp"] / "r1" / "runs" / SPEC["id"] / "full" / "seed-0.json").read_text())
    rec2 = json.loads((env["tmp"] / "r2" / "runs" / SPEC["id"] / "full" / "seed-0.json").read_text())
    assert "DDP" in rec2["device"] and rec2["status"] == "ok"
    assert rec2["data_info"]["test_size"] == rec1["data_info"]["test_size"]
    assert abs(rec1["test_acc"] - rec2["test_acc"]) < 0.05  # same spec, same global batch: within seed noise


def test_local_executor_and_submitit_local(env: dict[str, Path]) -> None:
    jobs = [Job(SPEC["id"], s, "smoke", env["results"]) for s in (0, 1)]
    outcomes = run_local(jobs, parallel=2)
    assert sorted(o.status for o in outcomes) == ["ok", "ok"]
    assert all(o.log.exists() for o in outcomes)
    pytest.importorskip("submitit")
    out = run_slurm([Job(SPEC["id"], 2, "smoke", env["results"])], env["tmp"] / "submitit", cluster="local",
                    timeout_min=5)
    assert out[0].status == "ok"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_kill_then_resume_gives_the_uninterrupted_result(env: dict[str, Path], sig: int) -> None:
    sid = "digits-relu-slow"
    args = ["run", sid, "--device", "cpu", "--epochs", "8"]
    ref = _cli(*args, "--results", str(env["tmp"] / "ref"))
    assert ref.returncode == 0, ref.stderr[-2000:]
    out = env["tmp"] / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "snnrepro", *args, "--results", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = out / "runs" / sid / "full" / "checkpoints" / "seed-0.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)  # mid-way through the next epoch
    os.kill(proc.pid, sig)
    proc.wait()
    if sig == signal.SIGTERM:  # a pre-emption: the record says so and keeps the finished epochs
        cut = json.loads((out / "runs" / sid / "full" / "seed-0.json").read_text())
        assert proc.returncode == 1 and cut["status"] == "interrupted" and 1 <= cut["epochs"] < 8
    resumed = _cli(*args, "--results", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = json.loads((env["tmp"] / "ref" / "runs" / sid / "full" / "seed-0.json").read_text())
    b = json.loads((out / "runs" / sid / "full" / "seed-0.json").read_text())
    assert b["status"] == "ok" and "resumed_from_epoch" in b["metrics"]
    assert [h["test_acc"] for h in a["history"]] == [h["test_acc"] for h in b["history"]]
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]


def _write_many(args: tuple[str, int]) -> int:
    root, worker = Path(args[0]), args[1]
    for seed in range(20):
        rec = RunRecord(id=f"w{worker}", paper="rsn", profile="full", seed=seed, status="ok", test_acc=0.5)
        write_record(record_path(root, rec.id, rec.profile, rec.seed), rec)
    return worker


def test_concurrent_writers_lose_nothing(env: dict[str, Path]) -> None:
    root = env["tmp"] / "concurrent"
    with ProcessPoolExecutor(4) as pool:
        list(pool.map(_write_many, [(str(root), w) for w in range(4)]))
    records = iter_records(root)
    assert len(records) == 80
    spec = resolve({**SPEC, "id": "w0"}, where="t")
    rebuild_all([spec], root)
    assert len((root / "runs.csv").read_text().splitlines()) == 81


def _nondeterministic_op() -> None:
    """``Tensor.put_`` without accumulation has no deterministic implementation, on CPU too."""
    torch.zeros(5).put_(torch.tensor([0, 0]), torch.tensor([1.0, 2.0]))


def test_deterministic_mode_is_strict_and_set_by_every_run(tmp_path: Path) -> None:
    """``train.deterministic: true``: torch's deterministic algorithms without ``warn_only`` (an op without a
    deterministic implementation raises), cuDNN deterministic; ``false`` (the default) restores PyTorch's
    defaults, so a run never inherits the mode of one before it in the same process."""
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        if torch.cuda.is_available():
            assert os.environ["CUBLAS_WORKSPACE_CONFIG"] in (CUBLAS_WORKSPACE, ":16:8")
        with pytest.raises(RuntimeError, match="deterministic"):
            _nondeterministic_op()
        seed_everything(0)
        assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic
        _nondeterministic_op()

        class Watch(ProgressSink):  # what the mode is while the loop trains
            def __init__(self) -> None:
                self.seen: list[bool] = []

            def batch(self, epoch: int, done: int, loss: float, acc: float, samples_per_s: float) -> None:
                self.seen.append(torch.are_deterministic_algorithms_enabled())

        for flag in (True, False, True):
            raw = digits_spec("digits-relu-det", arch="64-10", epochs=1, max_batches=2, deterministic=flag)
            watch = Watch()
            rec = fit(resolve(raw, where="t"), 0, torch.device("cpu"), tmp_path / str(flag), tmp_path / "data",
                      progress=watch)  # fmt: skip
            assert rec.status == "ok" and watch.seen == [flag, flag], (flag, watch.seen)
    finally:
        seed_everything(0)
