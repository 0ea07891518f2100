"""Verdicts that cannot flatter: seeds counted, final beside best, collapses, ties, gaps, provenance, cost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from snnrepro.data.loading import split_validation
from snnrepro.engine.fit import fit
from snnrepro.metrics.accuracy import correct_mask, count_correct
from snnrepro.results.cost import CostContext, blocker, row_cost
from snnrepro.results.provenance import method_changed
from snnrepro.results.record import RunRecord, iter_records, record_path
from snnrepro.results.tables import markdown_tables, row_summary
from snnrepro.results.verdict import UNSTABLE_DROP_PP, collapsed, count_seeds, row_verdict
from snnrepro.spec import SpecError, deep_merge, resolve

RAW = {
    "id": "digits-relu-mlp",
    "paper": "rsn",
    "table": "Table 3",
    "row": "verdict test",
    "reported": 90.0,
    "tolerance": 1.0,
    "dataset": {"name": "digits", "params": {"size": 8}},
    "model": {"family": "relu", "arch": "64-64-10"},
    "optimizer": {"name": "adam", "lr": 0.01},
    "train": {"epochs": 3, "batch_size": 64, "eval_batch_size": 512, "seeds": 3},
}


def spec_for(**over: object):
    return resolve(deep_merge(RAW, over), where="verdict-test.yaml")


def rec(spec, seed: int, best: float, final: float | None = None, status: str = "ok", **kw: object) -> RunRecord:
    final = best if final is None else final
    base = dict(
        id=spec.id, paper=spec.paper, profile="full", seed=seed, status=status, test_acc=final,
        best_test_acc=best, best_epoch=1, epochs=3, epochs_planned=3, spec_hash=spec.hash(),
        git_commit="unknown", spec=spec.to_dict(),
    )  # fmt: skip
    base.update(kw)
    return RunRecord(**base)  # type: ignore[arg-type]


def test_a_row_needs_every_seed_of_its_spec_before_a_verdict() -> None:
    spec = spec_for()
    v = row_verdict(spec, [rec(spec, 0, 0.95)], check_provenance=False)
    assert v.status == "n=1 of 3" and v.n == 1
    three = [rec(spec, s, 0.95) for s in range(3)]
    assert row_verdict(spec, three, check_provenance=False).status == "reproduced"
    assert row_verdict(spec, three[:1], min_seeds=1, check_provenance=False).status == "reproduced"


def test_failed_and_diverged_seeds_are_counted_not_dropped() -> None:
    spec = spec_for()
    runs = [rec(spec, 0, 0.95), rec(spec, 1, 0.95), rec(spec, 2, 0.2, status="diverged")]
    v = row_verdict(spec, runs, check_provenance=False)
    assert v.seeds == "2 ok, 1 diverged"
    assert v.status == "n=2 of 3"  # the diverged seed does not count as finished
    assert count_seeds([rec(spec, 0, 0.9, status="failed"), rec(spec, 1, 0.9, data_source="standin:digits")]) == (
        "1 failed, 1 stand-in data"
    )


def test_a_collapse_is_unstable_whatever_the_best_value() -> None:
    spec = spec_for()
    drop = (UNSTABLE_DROP_PP + 0.5) / 100
    runs = [rec(spec, 0, 0.99, 0.99 - drop), rec(spec, 1, 0.99), rec(spec, 2, 0.99)]
    v = row_verdict(spec, runs, check_provenance=False)
    assert v.status == "unstable" and "seed 0" in " ".join(v.flags)
    assert v.final_mean is not None and v.final_mean < v.mean  # type: ignore[operator]
    assert not collapsed(rec(spec, 0, 0.99, 0.99 - (UNSTABLE_DROP_PP - 0.5) / 100))


def test_below_and_a_baseline_far_above_is_not_reproduced() -> None:
    spec = spec_for()
    low = [rec(spec, s, 0.80) for s in range(3)]
    assert row_verdict(spec, low, check_provenance=False).status == "below"
    high = [rec(spec, s, 0.99) for s in range(3)]
    assert row_verdict(spec, high, check_provenance=False).status == "reproduced"
    assert row_verdict(spec, high, is_baseline=True, check_provenance=False).status.startswith("above")


def test_a_claimed_gap_is_compared_as_a_gap() -> None:
    base = spec_for(id="digits-base", reported=88.0)
    mine = spec_for(baseline="digits-base")  # reported 90: the paper claims +2.0
    records = [rec(base, s, 0.895) for s in range(3)] + [rec(mine, s, 0.90) for s in range(3)]
    s = row_summary(mine, records, all_specs=[base, mine])
    assert s["gap_reported"] == pytest.approx(2.0) and s["gap_measured"] == pytest.approx(0.5)
    assert s["gap"] == "smaller"
    md = markdown_tables([base, mine], records, "t")
    assert "+0.50 vs +2.00" in md and "above (baseline" in md  # 89.5 vs 88 +- 1: the baseline is above
    flipped = [rec(base, s, 0.92) for s in range(3)] + [rec(mine, s, 0.90) for s in range(3)]
    assert row_summary(mine, flipped, all_specs=[base, mine])["gap"] == "reversed"


def test_a_gap_without_a_paper_number_or_a_result_says_which() -> None:
    base = spec_for(id="digits-base", reported=88.0)
    mine = spec_for(baseline="digits-base")
    pool = [base, mine]
    assert row_summary(mine, [rec(mine, s, 0.90) for s in range(3)], all_specs=pool)["gap"] == "not measured"
    quick = [rec(base, s, 0.88, profile="quick") for s in range(3)] + [rec(mine, s, 0.90) for s in range(3)]
    s = row_summary(mine, quick, all_specs=pool)
    assert s["gap"] == "not comparable (full vs quick budget)" and s["gap_measured"] is None
    base_sub, mine_sub = spec_for(id="digits-base", reported=None), spec_for(baseline="digits-base", reported=None)
    both = [rec(base_sub, s, 0.88) for s in range(3)] + [rec(mine_sub, s, 0.90) for s in range(3)]
    s = row_summary(mine_sub, both, all_specs=[base_sub, mine_sub])
    assert s["gap"] == "measured, no paper gap" and s["gap_measured"] == pytest.approx(2.0)
    assert s["gap_reported"] is None
    one_seed = both[:1] + both[3:]  # the baseline has 1 of its 3 seeds: no verdict on the gap yet
    assert row_summary(mine_sub, one_seed, all_specs=[base_sub, mine_sub])["gap"] == "incomplete"


def test_baseline_must_name_another_row() -> None:
    with pytest.raises(SpecError, match="baseline"):
        spec_for(baseline="digits-relu-mlp")


def test_ties_count_as_wrong() -> None:
    silent = torch.full((4, 10), -8.0)  # every output silent: all scores equal
    target = torch.tensor([0, 1, 2, 3])
    assert count_correct(silent, target) == 0  # argmax would give class 0 a hit
    scores = torch.tensor([[3.0, 3.0, 1.0], [0.0, 2.0, 1.0], [float("nan"), 0.0, 0.0]])
    assert correct_mask(scores, torch.tensor([0, 1, 0])).tolist() == [False, True, False]


def test_provenance_marks_dirty_trees_mixed_commits_and_method_changes() -> None:
    spec = spec_for()
    runs = [rec(spec, 0, 0.95, git_commit="abc+dirty"), rec(spec, 1, 0.95, git_commit="def"), rec(spec, 2, 0.95)]
    flags = " ".join(row_verdict(spec, runs).flags)
    assert "dirty tree: seed 0" in flags and "mixed commits (3)" in flags and "not verifiable" in flags
    changed = spec_for(optimizer={"name": "adam", "lr": 0.001})
    assert method_changed(changed, runs[0]) and not method_changed(spec, runs[0])


def test_family_code_change_since_the_record_is_flagged() -> None:
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        first = subprocess.run(
            ["git", "rev-list", "--max-parents=0", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.split()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        pytest.skip("no git history in this checkout")
    spec = spec_for()
    flags = " ".join(row_verdict(spec, [rec(spec, s, 0.95, git_commit=first[:12]) for s in range(3)]).flags)
    assert "family code changed since" in flags  # models/relu.py did not exist at the first commit


def test_a_commit_that_only_moved_family_code_does_not_flag_older_records(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import shutil
    import subprocess

    from snnrepro.results import provenance

    if shutil.which("git") is None:
        pytest.skip("no git")

    def git(*args: str) -> str:
        cfg = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
        return subprocess.run(["git", *cfg, *args], cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    def commit(message: str) -> str:
        git("add", "-A")
        git("commit", "-qm", message)
        return git("rev-parse", "HEAD").strip()

    neurons = tmp_path / "snnrepro" / "neurons"
    neurons.mkdir(parents=True)
    git("init", "-q")
    (neurons / "fam.py").write_text("A = 1\nB = 2\n")
    first = commit("first")
    (neurons / "fam.py").write_text("A = 1\nB = 3\n")
    changed = commit("a real change")
    (neurons / "fam").mkdir()
    git("mv", "snnrepro/neurons/fam.py", "snnrepro/neurons/fam/kernel.py")
    (neurons / "fam" / "__init__.py").write_text("from snnrepro.neurons.fam.kernel import A, B\n")
    moved = commit("fam.py becomes a package")
    paths = ("snnrepro/neurons/fam",)

    def since(record_commit: str, relayouts: dict[str, tuple[str, ...]]) -> bool | None:
        provenance._git.cache_clear()
        provenance.changed_since.cache_clear()
        monkeypatch.setattr(provenance, "RELAYOUTS", relayouts)
        return provenance.changed_since(record_commit, paths)

    monkeypatch.setattr(provenance, "_PACKAGE", tmp_path / "snnrepro")
    try:
        listed = {moved: ("snnrepro/neurons/fam.py",)}
        assert since(changed, {}) is True  # the move alone is a change to git
        assert since(changed, listed) is False  # ... but not to what the code computes
        assert since(first, listed) is True  # a real change before the move still counts
        assert since(moved, listed) is False
        (neurons / "fam" / "kernel.py").write_text("A = 2\nB = 3\n")
        commit("a real change after the move")
        assert since(changed, listed) is True
    finally:
        provenance._git.cache_clear()
        provenance.changed_since.cache_clear()


def test_cost_from_records_and_blockers(tmp_path: Path) -> None:
    spec = spec_for()
    history = [{"epoch": 1, "epoch_s": 2.0}, {"epoch": 2, "epoch_s": 4.0}]
    r = rec(spec, 0, 0.9, profile="quick", device="cpu", history=history, data_info={"train_size": 1000})
    c = row_cost(spec, [r], {}, "cpu")
    assert c is not None and c.s_per_sample == pytest.approx(0.003)
    assert c.hours_per_seed == pytest.approx(0.003 * 1437 * 3 / 3600) and c.seeds == 3
    assert row_cost(spec, [r], {}, "cuda") is None
    m = {"cuda": {spec.id: {"s_per_sample": 1e-4, "data": "real"}}}
    assert row_cost(spec, [r], m, "cuda").source.startswith("cost --measure")  # type: ignore[union-attr]
    assert blocker(spec, tmp_path, c) == ""  # digits ship with scikit-learn
    raw = {**RAW, "dataset": {"name": "mnist"}, "model": {"family": "relu", "arch": "784-64-10"}}
    mnist = resolve(raw, where="m.yaml")
    assert "data missing" in blocker(mnist, tmp_path, None)
    slow = row_cost(spec, [rec(spec, 0, 0.9, device="cpu", history=[{"epoch_s": 1e5}], data_info={"train_size": 10})],
                    {}, "cpu")  # fmt: skip
    assert "needs a GPU" in blocker(spec, tmp_path, slow)
    assert "CPU" in CostContext({}, tmp_path).describe(spec, [r])["cost"]  # type: ignore[operator]


def test_val_split_picks_the_epoch_without_the_test_set(tmp_path: Path) -> None:
    ds = torch.utils.data.TensorDataset(torch.arange(100))
    train, val = split_validation(ds, 0.2)
    assert val is not None and len(val) == 20 and len(train) == 80  # type: ignore[arg-type]
    assert not set(train.indices) & set(val.indices)  # type: ignore[attr-defined]
    spec = spec_for(train={"epochs": 3, "seeds": 1, "val_split": 0.2})
    r = fit(spec, 0, torch.device("cpu"), tmp_path, tmp_path / "data")
    assert all("val_acc" in h for h in r.history) and r.data_info["val_size"] == round(0.2 * 1437)
    best_epoch = max(range(3), key=lambda i: (r.history[i]["val_acc"], -i))
    assert r.best_epoch == best_epoch + 1
    assert r.best_test_acc == r.history[best_epoch]["test_acc"]  # the test accuracy at the val-chosen epoch
    on_disk = json.loads(record_path(tmp_path, spec.id, "full", 0).read_text())
    assert on_disk["metrics"]["best_val_acc"] == r.history[best_epoch]["val_acc"]
    assert iter_records(tmp_path)[0].best_test_acc == r.best_test_acc
    with pytest.raises(SpecError, match="val_split"):
        spec_for(train={"val_split": 1.5})


def test_unset_new_keys_do_not_change_spec_hashes() -> None:
    assert spec_for().hash() == spec_for(baseline=None).hash()
    assert spec_for().hash() != spec_for(train={"val_split": 0.1}).hash()


def test_list_fits_cpu_and_cost_come_from_measurements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from snnrepro.cli import app

    results = tmp_path / "results"
    (results / "cost").mkdir(parents=True)
    from snnrepro.spec import load_spec

    fast = {"s_per_sample": 1e-6, "data": "real", "spec_hash": load_spec("xor-rsn-absolute").hash()}
    slow = {"s_per_sample": 1000.0, "data": "stand-in", "spec_hash": load_spec("xor-rsn-relative").hash()}
    stale = {"s_per_sample": 1e-6, "data": "real", "spec_hash": "0123456789ab"}  # made for another spec: ignored
    (results / "cost" / "cpu.json").write_text(
        json.dumps({"device": "cpu", "specs": {"xor-rsn-absolute": fast, "xor-rsn-relative": slow, "assoc-iir": stale}})
    )
    monkeypatch.setenv("COLUMNS", "200")
    out = CliRunner().invoke(app, ["list", "--fits-cpu", "--results", str(results), "--format", "json"])
    assert out.exit_code == 0, out.output
    ids = [r["id"] for r in json.loads(out.stdout)]
    assert ids == ["xor-rsn-absolute"]  # every other row: no measurement, or (xor-rsn-relative) needs a GPU
    out = CliRunner().invoke(app, ["cost", "xor-rsn-relative", "--results", str(results)])
    assert out.exit_code == 0 and "needs a GPU (22 CPU h per seed)" in " ".join(out.stdout.split())
