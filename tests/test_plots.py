"""``snnrepro plot``: curves, accuracy against T, variant bars and the scatter from fixture run records."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import digits_spec
from typer.testing import CliRunner

from snnrepro.cli import app
from snnrepro.results.plots import measured, t_sweeps
from snnrepro.results.record import RunRecord, iter_records, record_path, write_record
from snnrepro.results.tables import README_END, README_START, update_readme
from snnrepro.spec import load_spec


def _spec(spec_id: str, table: str, row: str, reported: float | None) -> dict:
    return {**digits_spec(spec_id, paper="bpsta", seeds=2), "table": table, "row": row, "reported": reported}


SPECS = [
    _spec("digits-sweep-t4-base", "Table 6", "Baseline, T = 4", 80.0),
    _spec("digits-sweep-t8-base", "Table 6", "Baseline, T = 8", 85.0),
    _spec("digits-sweep-t4-new", "Table 6", "New, T = 4", 90.0),
    _spec("digits-sweep-t8-new", "Table 6", "New, T = 8", 95.0),
    _spec("digits-abl-baseline", "Table 4", "Baseline (ablation)", 70.0),
    _spec("digits-abl-bpsa", "Table 4", "BPSA (ablation)", 75.0),
    _spec("digits-other", "Table 1", "A row without records", 99.0),
]
#: (id, seed) -> best accuracy of the fixture records (fractions)
ACC = {("digits-sweep-t4-base", 0): 0.70, ("digits-sweep-t4-base", 1): 0.72, ("digits-sweep-t8-base", 0): 0.81,
       ("digits-sweep-t4-new", 0): 0.88, ("digits-abl-baseline", 0): 0.66, ("digits-abl-bpsa", 0): 0.77}  # fmt: skip


def write_records(results: Path) -> None:
    for (sid, seed), acc in ACC.items():
        spec = load_spec(sid)
        hist = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": acc - 0.1 / e, "test_loss": 1.2 / e,
                 "test_acc": acc - 0.05 / e, "lr": 0.01, "epoch_s": 1.0} for e in (1, 2, 3)]  # fmt: skip
        rec = RunRecord(id=sid, paper="bpsta", profile="full", seed=seed, status="ok", test_acc=hist[-1]["test_acc"],
                        best_test_acc=acc, best_epoch=3, epochs=3, epochs_planned=3, device="cpu",
                        spec_hash=spec.hash(), history=hist, spec=spec.to_dict())  # fmt: skip
        write_record(record_path(results, sid, "full", seed), rec)


@pytest.fixture
def env(spec_env) -> dict[str, Path]:
    paths = spec_env(*SPECS)
    write_records(paths["results"])
    return paths


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def assert_png(path: Path) -> None:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    h, w = imread(path).shape[:2]
    assert h > 200 and w > 300, (path, h, w)


def test_sweeps_and_measured_values_from_records(env: dict[str, Path]) -> None:
    specs = [load_spec(s["id"]) for s in SPECS]
    sweeps = t_sweeps(specs)
    assert list(sweeps) == [("bpsta", "Table 6")]  # Table 4 and Table 1 do not state T
    series = sweeps[("bpsta", "Table 6")]
    assert {k: [s.id for s in m] for k, m in series.items()} == {
        "digits-sweep-base": ["digits-sweep-t4-base", "digits-sweep-t8-base"],
        "digits-sweep-new": ["digits-sweep-t4-new", "digits-sweep-t8-new"],
    }
    records = iter_records(env["results"])
    m = measured(specs[0], records)
    assert m is not None and m.n == 2 and m.mean == pytest.approx(71.0) and m.std == pytest.approx(2**0.5)
    assert m.profile == "full" and m.tag(specs[0]) == ""
    assert measured(specs[-1], records) is None


def test_plot_id_paper_and_all_write_pngs(env: dict[str, Path]) -> None:
    plots = env["results"] / "plots"
    res = invoke("plot", "digits-sweep-t4-base")
    assert res.exit_code == 0, res.output
    assert_png(plots / "bpsta" / "curves" / "digits-sweep-t4-base-full.png")
    res = invoke("plot", "bpsta")
    assert res.exit_code == 0, res.output
    for name in ("table-6-accuracy-vs-T.png", "table-4-bars.png", "reported-vs-measured.png"):
        assert_png(plots / "bpsta" / name)
    assert sorted(p.name for p in (plots / "bpsta" / "curves").glob("*.png")) == sorted(
        f"{sid}-full.png" for sid in {sid for sid, _ in ACC}
    )
    stale = plots / "bpsta" / "curves" / "gone-full.png"
    stale.write_bytes(b"old")
    assert invoke("plot", "all").exit_code == 0
    assert_png(plots / "reported-vs-measured.png")
    assert not stale.exists()  # `plot all` leaves exactly what it drew


def test_plot_errors_are_one_line(env: dict[str, Path]) -> None:
    res = invoke("plot", "no-such-thing")
    assert res.exit_code == 2 and "no spec has paper or id" in res.output
    res = invoke("plot", "digits-other")
    assert res.exit_code == 2 and "no run record with a training history" in res.output


def test_readme_results_section_links_the_plots(env: dict[str, Path]) -> None:
    assert invoke("plot", "all").exit_code == 0
    readme = env["tmp"] / "README.md"
    readme.write_text(f"# x\n\n{README_START}\nOLD-SECTION-TEXT\n{README_END}\nafter\n")
    specs = [load_spec(s["id"]) for s in SPECS]
    update_readme(readme, specs, env["results"])
    text = readme.read_text()
    assert "(results/plots/reported-vs-measured.png)" in text
    assert "(results/plots/bpsta/table-6-accuracy-vs-T.png)" in text
    assert "(results/plots/bpsta/curves/digits-abl-bpsa-full.png)" in text
    assert text.endswith(f"{README_END}\nafter\n") and "OLD-SECTION-TEXT" not in text
