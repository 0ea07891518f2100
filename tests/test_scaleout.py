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
from conftest import digits_spec

from snnrepro.engine.executor import Job, run_local, run_slurm
from snnrepro.results.record import RunRecord, iter_records, record_path, write_record
from snnrepro.results.tables import rebuild_all
from snnrepro.spec import resolve

SPEC = digits_spec("digits-relu-scale", arch="64-64-10", epochs=3)


@pytest.fixture
def env(spec_env, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return spec_env(SPEC, digits_spec("digits-relu-slow", arch="64-64-10", epochs=40, batch_size=8))


def _cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snnrepro", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env_extra or {})})


def test_torchrun_two_processes_on_cpu_matches_single_process(env: dict[str, Path]) -> None:
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
