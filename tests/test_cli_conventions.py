"""CLI conventions: one default profile, shell completion, long runs announced before they start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from conftest import digits_spec
from typer.testing import CliRunner

from snnrepro.cli import app
from snnrepro.results.record import RunRecord, record_path, write_record

SPEC = digits_spec("digits-long", epochs=2)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _default(command: str, param: str) -> object:
    cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return next(p.default for p in cmd.params if p.name == param)


def test_run_and_reproduce_agree_on_the_default_profile() -> None:
    assert _default("run", "profile") == _default("reproduce", "profile") == _default("show", "profile") == "full"


def test_shell_completion_of_commands_ids_and_choices(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("snnrepro")
    if not exe.exists():
        pytest.skip("the snnrepro console script is not installed next to this python")

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_SNNREPRO_COMPLETE": "complete_bash", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}  # fmt: skip
        out = subprocess.run([str(exe)], env=env, capture_output=True, text=True, timeout=120)
        return out.stdout.split()

    assert complete("snnrepro li") == ["list"]
    assert "mnist-stdbp-cnn" in complete("snnrepro run mnist-st")
    assert complete("snnrepro table mnist --format ") == ["md", "csv", "json", "tsv", "table"]
    script = subprocess.run([str(exe), "--show-completion", "bash"], capture_output=True, text=True, timeout=120)
    assert "_SNNREPRO_COMPLETE=complete_bash" in script.stdout
    assert "--install-completion" in invoke("--help").stdout


def _slow_record(results: Path, epoch_s: float) -> None:
    """An earlier finished run of the spec on this CPU whose epochs took ``epoch_s`` seconds (1437 samples)."""
    rec = RunRecord(id="digits-long", paper="rsn", profile="quick", seed=0, status="ok", epochs=1, device="cpu",
                    history=[{"epoch": 1, "epoch_s": epoch_s}], data_info={"train_size": 1437},
                    spec={"train": {"max_batches": None}})  # fmt: skip
    write_record(record_path(results, "digits-long", "quick", 0), rec)


def test_a_run_estimated_over_an_hour_says_so_before_it_starts(spec_env) -> None:
    env = spec_env(SPEC)
    _slow_record(env["results"], epoch_s=2000.0)  # 2 epochs x 2000 s: about 1.1 h
    res = invoke("run", "digits-long", "--device", "cpu", "--seed", "0")
    assert res.exit_code == 0, res.output
    err = " ".join(res.stderr.split())
    assert "long run: digits-long (full, 1 seed(s) x 2 epochs) is estimated at about 1.1 h on cpu" in err
    assert "1391.79 ms per training sample, run records (quick)" in err
    assert err.index("long run:") < err.index("[digits-long s0] starting")
    # reproduce (same default profile) skips the finished seed: nothing left to estimate
    res = invoke("reproduce", "--all", "--device", "cpu", "--seeds", "1")
    assert res.exit_code == 0 and "long run" not in res.stderr


def test_short_or_unmeasured_runs_print_no_estimate(spec_env) -> None:
    env = spec_env(SPEC)
    res = invoke("run", "digits-long", "--device", "cpu", "--seed", "0")
    assert res.exit_code == 0 and "long run" not in res.stderr  # nothing measured yet: no guess
    _slow_record(env["results"], epoch_s=10.0)
    res = invoke("run", "digits-long", "--device", "cpu", "--seed", "1")
    assert res.exit_code == 0 and "long run" not in res.stderr  # measured, but well under an hour


def test_a_missing_dataset_names_where_datasets_are_read_from(spec_env) -> None:
    spec = {**digits_spec("mnist-missing"), "dataset": {"name": "mnist", "params": {}}}
    spec["model"] = {"family": "relu", "arch": "784-32-10"}
    spec_env(spec)
    res = invoke("run", "mnist-missing", "--seed", "0")  # offline, empty private data root
    assert res.exit_code == 2 and "train-images-idx3-ubyte" in res.output
    assert "--data-root DIR, else $SNNREPRO_DATA" in " ".join(res.output.split())
