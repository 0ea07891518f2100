"""``snnrepro compare``: planning from the families' templates, a real run on the digits, the table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snnrepro.cli import app
from snnrepro.compare.plan import FAMILIES, TEMPLATES, Budget, CompareError, plan
from snnrepro.spec import load_spec, resolve

runner = CliRunner()


def _templates(kind: str) -> dict[str, dict]:
    ids = {TEMPLATES[f][kind] for f in FAMILIES} - {None}
    return {tid: load_spec(tid).to_dict() for tid in ids}


@pytest.mark.parametrize("dataset,kind", [("mnist", "image"), ("fsdd", "audio"), ("nmnist", "events")])
def test_plan_keeps_each_method_and_shares_the_budget(dataset: str, kind: str) -> None:
    budget = Budget(dataset=dataset, epochs=3, seeds=2, train_subset=1000, test_subset=500)
    entries = plan(budget, list(FAMILIES), _templates(kind))
    assert [e.family for e in entries] == list(FAMILIES)
    for e in entries:
        if e.spec is None:  # only the temporal-code families lack an event encoder
            assert kind == "events" and e.family in ("stdbp", "rsn") and "no encoder" in e.skipped
            continue
        template = load_spec(TEMPLATES[e.family][kind]).to_dict()
        for key in ("encoder", "rule", "loss", "optimizer"):
            assert e.spec[key] == template[key], (e.family, key)
        assert e.spec["model"]["family"] == template["model"]["family"]
        assert e.spec["model"]["params"] == template["model"]["params"]
        assert e.spec["model"]["arch"] == "400-10"
        assert e.spec["dataset"]["name"] == dataset
        assert (e.spec["train"]["epochs"], e.spec["train"]["seeds"]) == (3, 2)
        assert (e.spec["train"]["train_subset"], e.spec["train"]["test_subset"]) == (1000, 500)
        assert e.spec["schedule"] == {"name": "constant"}
        assert e.spec["analyses"] == [{"name": "neuromorphic", "params": {"max_batches": 10}}]
        spec = resolve(e.spec, where="compare", check_registry=True)  # a valid spec
        assert spec.id == f"compare-{dataset}-mlp-{e.family}"


def test_paper_arch_keeps_the_templates_architecture() -> None:
    entries = plan(Budget(dataset="mnist", epochs=1, arch="paper"), ["brp"], _templates("image"))
    assert entries[0].spec["model"]["arch"] == load_spec("mnist-brp-cnn").model.arch


def test_unknown_family_or_dataset_is_refused() -> None:
    with pytest.raises(CompareError, match="unknown family 'snn'"):
        plan(Budget(dataset="mnist", epochs=1), ["snn"], {})
    with pytest.raises(CompareError, match="no modality known for dataset 'imagenet'"):
        plan(Budget(dataset="imagenet", epochs=1), ["stdbp"], {})


def test_compare_runs_on_the_digits_and_writes_table_csv_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = [
        "compare",
        "--dataset",
        "digits",
        "--epochs",
        "1",
        "--family",
        "rsn",
        "--family",
        "stdbp",
        "--train-subset",
        "300",
        "--test-subset",
        "100",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    rows = {r["family"]: r for r in csv.DictReader((out / "compare.csv").open())}
    assert set(rows) == {"rsn", "stdbp"}
    for family, row in rows.items():
        rec = json.loads((out / "runs" / f"compare-digits-mlp-{family}" / "full" / "seed-0.json").read_text())
        assert rec["status"] == "ok"
        assert float(row["test_acc_mean"]) == pytest.approx(rec["best_test_acc"])
        m = rec["metrics"]["neuromorphic"]
        assert m["samples"] == 100
        assert float(row["effective_acs"]) == pytest.approx(m["effective_acs"]) and m["effective_acs"] > 0
        assert float(row["peak_memory_mb"]) > 50  # the child's own resident set, measured by wait4
        assert row["seeds"] == "1 of 1"
    assert (out / "compare.png").stat().st_size > 1000
    assert "| rsn | 400-10 | 1 of 1 |" in (out / "compare.md").read_text()
    assert (out / "specs" / "compare-digits-mlp-rsn.yaml").exists()

    # a second call keeps finished records; a diverged seed is counted, not dropped
    rec_path = out / "runs" / "compare-digits-mlp-stdbp" / "full" / "seed-0.json"
    rec = json.loads(rec_path.read_text())
    rec.update(status="diverged", error="loss became nan")
    rec_path.write_text(json.dumps(rec))
    res = runner.invoke(app, [*args, "--no-run"])
    assert res.exit_code == 1
    assert "| stdbp | 400-10 | 0 of 1, 1 diverged |" in (out / "compare.md").read_text()
    assert "| rsn | 400-10 | 1 of 1 |" in (out / "compare.md").read_text()


def test_readme_results_embed_the_comparison_tables(tmp_path: Path) -> None:
    from snnrepro.results.tables import compare_section

    results = tmp_path / "results"
    assert compare_section(results, tmp_path) == ""
    folder = results / "compare" / "mnist-mlp"
    folder.mkdir(parents=True)
    (folder / "compare.md").write_text("## mnist: 5 learning rules\n\n| family |\n|---|\n| stdbp |\n")
    (folder / "compare.png").write_bytes(b"png")
    text = compare_section(results, tmp_path)
    assert "#### mnist: 5 learning rules" in text and "| stdbp |" in text
    assert "![mnist-mlp](results/compare/mnist-mlp/compare.png)" in text


def test_the_common_mlp_ends_with_the_datasets_classes() -> None:
    entries = plan(Budget(dataset="dvsgesture", epochs=1), ["iir"], _templates("events"))
    assert entries[0].spec["model"]["arch"] == "400-11"
