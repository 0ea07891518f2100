"""Verdicts that cannot flatter: one table row's status from its run records.

Rules (docs/ARCHITECTURE.md, "Verdicts"):

* A row is *reproduced* or *below* only at the paper's budget (profile ``full`` with the spec's exact
  hash) and only with as many finished seeds as the spec asks for (``train.seeds``), or an explicit
  minimum that the table then prints.  With fewer, the verdict reads ``n=1 of 5``.
* Every seed is counted by status (``3 ok, 1 diverged``); seeds that diverged, were interrupted or
  failed are never silently dropped.
* The final test accuracy is shown next to the spec's metric.  A seed whose final accuracy lies more
  than :data:`UNSTABLE_DROP_PP` below its best is a collapse and the row is *unstable*, whatever its
  best value.  "Best" is picked on the test set because the papers do so; ``train.val_split`` picks the
  epoch on held-out training data instead (then the record's ``best_test_acc`` is the test accuracy at
  the epoch chosen on validation data).
* A row far *above* its reported value (more than the tolerance) is *above*, not reproduced, when it
  is some other row's ``baseline`` (a claimed gap is then compared as a gap, :func:`gap`).
* Records made on a dirty tree, on a commit whose family code changed since, or mixing commits across
  seeds are marked (:mod:`snnrepro.results.provenance`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from snnrepro.results.provenance import provenance_flags
from snnrepro.results.record import RunRecord
from snnrepro.spec import Spec

#: profile preference when several exist for one row: the paper's budget first.
PROFILE_ORDER = ("full", "custom", "quick", "smoke")
#: a finished seed whose final accuracy is this many points below its best has collapsed.
UNSTABLE_DROP_PP = 2.0
#: status order when counting seeds.
_STATUS_ORDER = ("ok", "diverged", "failed", "interrupted", "running")


@dataclass
class RowVerdict:
    """What one comparison row shows (accuracies in percent)."""

    id: str
    profile: str = ""
    n: int = 0  # finished seeds on real data
    seeds_required: int = 1
    seeds: str = ""  # "3 ok, 1 diverged"
    mean: float | None = None
    std: float | None = None
    final_mean: float | None = None
    best_mean: float | None = None
    delta: float | None = None
    status: str = "not run"
    flags: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.profile == "full" and self.n >= self.seeds_required


def by_profile(spec: Spec, records: list[RunRecord]) -> dict[str, list[RunRecord]]:
    """This spec's records by profile; a ``full`` record whose hash differs from the spec's is ``custom``."""
    out: dict[str, list[RunRecord]] = defaultdict(list)
    full_hash = spec.hash()
    for r in records:
        if r.id == spec.id:
            out["custom" if r.profile == "full" and r.spec_hash != full_hash else r.profile].append(r)
    return out


def metric_value(r: RunRecord, metric: str) -> float | None:
    """The spec's metric of one run (``best_test_acc`` falls back to the final accuracy when absent)."""
    v = getattr(r, metric, None)
    return r.test_acc if v is None else v


def mean_std(vals: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample std (``None`` for the std of a single value: nothing to estimate it from)."""
    if not vals:
        return None, None
    mean = sum(vals) / len(vals)
    if len(vals) == 1:
        return mean, None
    return mean, (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5


def count_seeds(runs: list[RunRecord]) -> str:
    """``"3 ok, 1 diverged"``, latest record per seed; stand-in data runs are counted apart."""
    counts: Counter[str] = Counter()
    for r in runs:
        counts[r.status if r.data_source == "real" else "stand-in data"] += 1
    order = [s for s in _STATUS_ORDER if s in counts] + sorted(set(counts) - set(_STATUS_ORDER))
    return ", ".join(f"{counts[s]} {s}" for s in order)


def collapsed(r: RunRecord) -> bool:
    """Final accuracy far below the best one (a collapse late in training)."""
    if r.test_acc is None or r.best_test_acc is None:
        return False
    return 100.0 * (r.best_test_acc - r.test_acc) > UNSTABLE_DROP_PP


def row_verdict(
    spec: Spec,
    records: list[RunRecord],
    *,
    min_seeds: int | None = None,
    is_baseline: bool = False,
    check_provenance: bool = True,
) -> RowVerdict:
    """The verdict of ``spec``'s row: best available profile, seeds counted, final beside best, flags.

    ``spec`` must be the full-profile spec.  ``min_seeds`` lowers (or raises) the number of finished
    seeds a verdict needs below the spec's ``train.seeds``; the table then prints it.
    """
    required = spec.train.seeds if min_seeds is None else min_seeds
    v = RowVerdict(spec.id, seeds_required=required)
    groups = by_profile(spec, records)
    notes: list[str] = []
    for profile in PROFILE_ORDER:
        runs = groups.get(profile)
        if not runs:
            continue
        v.profile, v.seeds = profile, count_seeds(runs)
        ok = [r for r in runs if r.status == "ok" and r.data_source == "real"]
        if not ok:
            real = [r for r in runs if r.data_source == "real"]
            best = [m for r in real if (m := metric_value(r, spec.metric)) is not None]
            partial = f" (best {100 * max(best):.2f} after {max(r.epochs for r in real)} epochs)" if best else ""
            notes.append(f"{profile}: {v.seeds}{partial}")
            v.status = notes[-1]
            continue
        vals = [100.0 * m for r in ok if (m := metric_value(r, spec.metric)) is not None]
        if not vals:
            v.status = f"{profile}: no metric"
            continue
        v.n = len(vals)
        v.mean, v.std = mean_std(vals)
        v.final_mean = mean_std([100.0 * r.test_acc for r in ok if r.test_acc is not None])[0]
        v.best_mean = mean_std([100.0 * r.best_test_acc for r in ok if r.best_test_acc is not None])[0]
        if spec.reported is not None:
            v.delta = v.mean - spec.reported
        if check_provenance:
            v.flags += provenance_flags(spec, ok)
        unstable = [r.seed for r in ok if collapsed(r)]
        if unstable:
            v.flags.append("unstable: final far below best for seed " + ", ".join(map(str, unstable)))
        v.status = _status(spec, v, ok, profile, bool(unstable), is_baseline)
        if notes:  # a better budget exists but did not finish: say so next to what is shown
            v.status = f"{v.status}; {'; '.join(notes)}"
        break
    return v


def _status(spec: Spec, v: RowVerdict, ok: list[RunRecord], profile: str, unstable: bool, is_baseline: bool) -> str:
    if profile != "full":
        used = sorted({(r.spec.get("dataset") or {}).get("name", "?") for r in ok} - {spec.dataset.name})
        if used:  # another dataset: a difference to the paper's number would mean nothing
            v.delta = None
        return f"{profile}-only" + (f" (on {', '.join(used)})" if used else "")
    if v.n < v.seeds_required:
        return f"n={v.n} of {v.seeds_required}"
    if unstable:
        return "unstable"
    if spec.reported is None:
        return "measured"
    assert v.mean is not None
    if v.mean < spec.reported - spec.tolerance:
        return "below"
    if is_baseline and v.mean > spec.reported + spec.tolerance:
        return "above (baseline: the claimed gap shrinks)"
    return "reproduced"


@dataclass
class Gap:
    """A claimed difference (this row minus its ``baseline`` row), measured and reported, in points."""

    baseline: str
    measured: float | None
    reported: float | None
    verdict: str


def gap(spec: Spec, mine: RowVerdict, base_spec: Spec | None, base: RowVerdict | None) -> Gap | None:
    """The row's claimed gap against ``spec.baseline`` (``None`` when the spec names no baseline).

    The gap *holds* when both rows are complete full-budget results and the measured gap has the reported
    sign and reaches the reported size less this row's tolerance; else it is *smaller* or *reversed* (zero
    or the other sign); *incomplete* while either row lacks seeds. Without a gap to judge it is *not
    measured* (a row has no result), *not comparable* (the two rows' results have different budgets) or,
    for a substitute row whose paper gives no number, *measured, no paper gap* (complete rows only).
    """
    if not spec.baseline:
        return None
    if base_spec is None or base is None:
        return Gap(spec.baseline, None, None, f"unknown baseline {spec.baseline!r}")
    reported = None
    if spec.reported is not None and base_spec.reported is not None:
        reported = spec.reported - base_spec.reported
    if mine.mean is None or base.mean is None:
        return Gap(spec.baseline, None, reported, "not measured")
    if mine.profile != base.profile:
        return Gap(spec.baseline, None, reported, f"not comparable ({mine.profile} vs {base.profile} budget)")
    measured = mine.mean - base.mean
    if not (mine.complete and base.complete):
        return Gap(spec.baseline, measured, reported, "incomplete")
    if reported is None:
        return Gap(spec.baseline, measured, reported, "measured, no paper gap")
    if reported != 0 and measured * reported <= 0:
        return Gap(spec.baseline, measured, reported, "reversed")
    if abs(measured) < abs(reported) - spec.tolerance:
        return Gap(spec.baseline, measured, reported, "smaller")
    return Gap(spec.baseline, measured, reported, "holds")
