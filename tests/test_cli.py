"""The CLI as a user drives it: list, show, run --json, table, reproduce, data check, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import digits_spec
from typer.testing import CliRunner

from snnrepro.cli import app

SPEC = {**digits_spec("digits-relu-cli", seeds=2), "reported": 84.15, "row": "CLI test row"}


@pytest.fixture
def env(spec_env) -> dict[str, Path]:
    return spec_env(SPEC)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_run_json_then_table(env: dict[str, Path]) -> None:
    res = invoke("run", "digits-relu-cli", "--device", "cpu", "--json")
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [x["seed"] for x in lines] == [0, 1]
    for x in lines:
        assert x["status"] == "ok" and 0.5 < x["test_acc"] <= 1.0 and x["epochs"] == 2
        assert {"id", "best_test_acc", "wall_s"} <= set(x)
    table = invoke("table", "rsn")
    assert table.exit_code == 0 and "CLI test row" in table.stdout and "2 ok" in table.stdout
    assert "full" in table.stdout
    csv = invoke("table", "digits", "--format", "csv")
    assert csv.exit_code == 0 and csv.stdout.startswith("id,row,dataset")
    listing = invoke("list", "--paper", "rsn")
    assert "digits-relu-cli" in listing.stdout and "full" in listing.stdout


def test_show_resolves_profile_and_overrides(env: dict[str, Path]) -> None:
    res = invoke("show", "digits-relu-cli", "--profile", "smoke", "--set", "optimizer.lr=0.5")
    assert res.exit_code == 0
    shown = yaml.safe_load(res.stdout)
    assert shown["optimizer"]["lr"] == 0.5 and shown["train"]["max_batches"] == 1


def test_bad_input_gives_exit_code_2_and_one_line(env: dict[str, Path]) -> None:
    res = invoke("run", "no-such-spec")
    assert res.exit_code == 2 and "unknown spec id" in res.output and "Traceback" not in res.output
    res = invoke("run", "digits-relu-cli", "--set", "train.epochs=zero")
    assert res.exit_code == 2 and "train.epochs: expected an integer" in res.output
    bad = env["exp"] / "rsn" / "broken.yaml"
    bad.write_text(yaml.safe_dump({**SPEC, "id": "broken", "model": {"family": "relu", "arch": "64-x-10"}}))
    res = invoke("run", str(bad))
    assert res.exit_code == 2 and "model.arch" in res.output and "broken.yaml" in res.output


def test_missing_dataset_offline_names_files_and_keeps_results(env: dict[str, Path]) -> None:
    assert invoke("run", "digits-relu-cli", "--seed", "0").exit_code == 0
    spec = {**SPEC, "id": "mnist-relu-cli", "dataset": {"name": "mnist", "params": {}}}
    spec["model"] = {"family": "relu", "arch": "784-32-10"}
    (env["exp"] / "rsn" / "mnist-relu-cli.yaml").write_text(yaml.safe_dump(spec))
    res = invoke("run", "mnist-relu-cli", "--seed", "0")
    assert res.exit_code == 2 and "train-images-idx3-ubyte" in res.output and "MNIST" in res.output
    assert (env["results"] / "runs" / "digits-relu-cli" / "full" / "seed-0.json").exists()


def test_reproduce_smoke_writes_tables_and_skips_done(env: dict[str, Path]) -> None:
    res = invoke("reproduce", "--all", "--profile", "smoke", "--device", "cpu")
    assert res.exit_code == 0, res.output
    assert (env["results"] / "tables" / "rsn.md").exists() and (env["results"] / "rsn.csv").exists()
    assert "smoke-only" in (env["results"] / "tables" / "rsn.md").read_text()
    before = (env["results"] / "runs" / "digits-relu-cli" / "smoke" / "seed-0.json").stat().st_mtime_ns
    assert invoke("reproduce", "--all", "--profile", "smoke", "--device", "cpu").exit_code == 0
    after = (env["results"] / "runs" / "digits-relu-cli" / "smoke" / "seed-0.json").stat().st_mtime_ns
    assert before == after


def test_unwritable_results_folder_fails_fast(env: dict[str, Path]) -> None:
    blocker = env["tmp"] / "file"
    blocker.write_text("not a folder")
    res = invoke("run", "digits-relu-cli", "--results", str(blocker / "sub"))
    assert res.exit_code == 2 and "not writable" in res.output


def test_data_check_lists_digits_present(env: dict[str, Path]) -> None:
    res = invoke("data", "check")
    assert res.exit_code == 0 and "digits" in res.stdout and "present" in res.stdout


def test_bench_writes_a_machine_stamped_report(env: dict[str, Path]) -> None:
    res = invoke("bench", "rsn", "--quick", "--device", "cpu")
    assert res.exit_code == 0, res.output
    md = (env["results"] / "bench" / "bench-rsn-cpu-quick.md").read_text()
    assert "torch:" in md and "allocator:" in md and "| rsn | RSN 784-400-10" in md and "x |" in md
    assert invoke("bench", "no-such-bench").exit_code == 2
