"""`snnrepro table --energy`: the BPSA/BPTA paper's Table 5 from any run record's energy analysis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import digits_spec
from typer.testing import CliRunner

from snnrepro.cli import app


def lif_spec(spec_id: str, energy: bool) -> dict:
    spec = {
        **digits_spec(spec_id, paper="bpsta", arch="8C3-MP2-10Voting", epochs=1, batch_size=32),
        "encoder": {"name": "direct", "params": {"T": 4}},
        "model": {"family": "lif", "arch": "8C3-MP2-10Voting", "params": {"gradient": "bpsa_bpta"}},
        "loss": {"name": "mse_onehot"},
        "optimizer": {"name": "adamw", "lr": 0.001},
        "reported": 99.0,
    }
    if energy:
        params = {"e_mac": 4.6, "e_ac": 0.1, "reported_firing_rate": 0.082, "reported_ee": 35.1}
        spec["analyses"] = [{"name": "energy", "params": params}]
    return spec


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def env(spec_env) -> dict[str, Path]:
    return spec_env(lif_spec("digits-lif-energy", True), lif_spec("digits-lif-plain", False))


def test_energy_table_from_smoke_run_records(env: dict[str, Path]) -> None:
    res = invoke("run", "digits-lif-energy", "digits-lif-plain", "--profile", "smoke", "--device", "cpu", "--json")
    assert res.exit_code == 0, res.output
    rec = json.loads((env["results"] / "runs/digits-lif-energy/smoke/seed-0.json").read_text())
    energy = rec["metrics"]["energy"]
    md = invoke("table", "bpsta", "--energy")
    assert md.exit_code == 0, md.output
    lines = {ln.split("|")[2].strip(): ln for ln in md.stdout.splitlines() if ln.startswith("| digits-lif")}
    row = [c.strip() for c in lines["`digits-lif-energy`"].split("|")]
    # row | id | profile | n | acc | rate | paper rate | EE | paper EE | EE ops | T | layers | note
    assert row[3] == "smoke" and row[4] == "1"
    assert row[6] == f"{energy['firing_rate']:.3f}" and row[7] == "0.082"
    assert row[8] == f"{energy['ee_paper']:.1f}" and row[9] == "35.1" and row[11] == "4"
    assert row[12] == " / ".join(f"{energy[k]:.3f}" for k in ("rate_lif1", "rate_lif2"))
    assert "no energy analysis in the 1 run record(s) (the spec has no energy analysis)" in lines["`digits-lif-plain`"]
    csv = invoke("table", "digits-lif-energy", "--energy", "--format", "csv")
    header, values = csv.stdout.splitlines()[:2]
    got = dict(zip(header.split(","), values.split(","), strict=True))
    # CSV numbers are rounded for reading: 4 significant digits
    assert float(got["firing_rate_mean"]) == pytest.approx(energy["firing_rate"], rel=1e-3)
    assert float(got["ee_synops_mean"]) == pytest.approx(energy["ee_synops"], rel=1e-3)
    # the paper's tables are untouched; `reproduce --no-run` also writes the energy table of the paper
    assert "firing rate" not in invoke("table", "bpsta").stdout
    assert invoke("reproduce", "--paper", "bpsta", "--no-run").exit_code == 0
    assert "digits-lif-energy" in (env["results"] / "tables/bpsta-energy.md").read_text()


def test_energy_table_says_when_nothing_ran(env: dict[str, Path]) -> None:
    md = invoke("table", "digits-lif-energy", "--energy")
    assert md.exit_code == 0 and "| `digits-lif-energy` | – | 0 |" in md.stdout and "not run" in md.stdout
    assert "No run records" in invoke("table", "digits-lif-plain", "--energy").stdout


def test_the_energy_table_is_a_declared_contribution_and_the_tables_import_no_torch(env: dict[str, Path]) -> None:
    """Analyses declare their tables (``snnrepro/analyses/<name>_table.py``); tables.py names none of them."""
    import subprocess
    import sys

    code = ("import sys; from snnrepro.results.tables import contributions; "
            "print([c.name for c in contributions()], 'torch' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split("]")[0] + "]" == "['energy']" and out.stdout.strip().endswith("False")
    tables = (Path(__file__).parents[1] / "snnrepro" / "results" / "tables.py").read_text()
    assert "energy" not in tables
    by_name = invoke("table", "digits-lif-energy", "--analysis", "energy")
    assert by_name.exit_code == 0 and by_name.stdout == invoke("table", "digits-lif-energy", "--energy").stdout
    bad = CliRunner().invoke(app, ["table", "digits-lif-energy", "--analysis", "nope"])
    assert bad.exit_code == 2 and "unknown analysis table 'nope'; registered: energy" in bad.stderr
    flat = CliRunner().invoke(app, ["table", "digits-lif-energy", "--analysis", "energy", "--format", "table"])
    assert flat.exit_code == 2 and "with --analysis energy use md, csv, json or tsv" in flat.stderr
