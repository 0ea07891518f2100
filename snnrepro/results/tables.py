"""Aggregate run records into CSVs and paper-vs-toolkit comparison tables.

Each run writes only its own JSON record, so concurrent runs never contend for a file;
the CSVs and tables are rebuilt from all records (atomically) whenever asked.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import pandas as pd

from snnrepro.engine.checkpoint import atomic_write_bytes
from snnrepro.results.record import RunRecord, iter_records
from snnrepro.spec import Spec

RUN_COLUMNS = [
    "id",
    "paper",
    "profile",
    "seed",
    "status",
    "test_acc",
    "best_test_acc",
    "best_epoch",
    "epochs",
    "epochs_planned",
    "wall_s",
    "device",
    "data_source",
    "spec_hash",
    "git_commit",
    "finished_at",
]
#: profile preference when several exist for one row: the paper's budget first.
PROFILE_ORDER = ("full", "custom", "quick", "smoke")


def runs_frame(records: list[RunRecord]) -> pd.DataFrame:
    rows = [{c: getattr(r, c) for c in RUN_COLUMNS} for r in records]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_bytes(path, df.to_csv(index=False).encode())


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _metric(r: RunRecord, metric: str) -> float | None:
    """The spec's metric of one run (``best_test_acc`` falls back to the final accuracy when absent)."""
    v = getattr(r, metric, None)
    return r.test_acc if v is None else v


def row_summary(spec: Spec, records: list[RunRecord]) -> dict[str, object]:
    """One comparison row: the best available profile's mean ± std over seeds, Δ and status.

    ``spec`` must be the full-profile spec: a run labelled ``full`` counts as the paper's
    budget only if its spec hash equals this spec's; a full run with overridden keys
    (``--set``, ``--epochs``) is reported under the profile name ``custom``.
    """
    mine = [r for r in records if r.id == spec.id]
    by_profile: dict[str, list[RunRecord]] = defaultdict(list)
    full_hash = spec.hash()
    for r in mine:
        by_profile["custom" if r.profile == "full" and r.spec_hash != full_hash else r.profile].append(r)
    out: dict[str, object] = {
        "id": spec.id,
        "row": spec.row,
        "dataset": spec.dataset.name,
        "arch": spec.model.arch,
        "reported": spec.reported,
        "profile": "",
        "n": 0,
        "mean": None,
        "std": None,
        "delta": None,
        "status": "not run",
    }
    notes: list[str] = []
    for profile in PROFILE_ORDER:
        runs = by_profile.get(profile)
        if not runs:
            continue
        ok = [r for r in runs if r.status == "ok" and r.data_source == "real"]
        out["profile"] = profile
        if not ok:
            statuses = sorted({r.status if r.data_source == "real" else "stand-in data" for r in runs})
            best = [v for r in runs if r.data_source == "real" and (v := _metric(r, spec.metric)) is not None]
            partial = f" (best {100 * max(best):.2f} after {max(r.epochs for r in runs)} epochs)" if best else ""
            notes.append(f"{profile}: " + "/".join(statuses) + partial)
            out["status"] = notes[-1]
            continue
        vals = [100.0 * v for r in ok if (v := _metric(r, spec.metric)) is not None]
        if not vals:
            out["status"] = f"{profile}: no metric"
            continue
        mean = sum(vals) / len(vals)
        std = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5 if len(vals) > 1 else 0.0
        out.update(n=len(vals), mean=mean, std=std)
        if spec.reported is not None:
            out["delta"] = mean - spec.reported
        if profile != "full":
            used = sorted({(r.spec.get("dataset") or {}).get("name", "?") for r in ok} - {spec.dataset.name})
            out["status"] = f"{profile}-only" + (f" (on {', '.join(used)})" if used else "")
            if used:  # another dataset: a difference to the paper's number would mean nothing
                out["delta"] = None
        elif spec.reported is None:
            out["status"] = "measured"
        elif mean >= spec.reported - spec.tolerance:
            out["status"] = "reproduced"
        else:
            out["status"] = "below"
        if notes:  # a better budget exists but did not finish: say so next to what is shown
            out["status"] = f"{out['status']}; {'; '.join(notes)}"
        break
    return out


def comparison_frame(specs: list[Spec], records: list[RunRecord]) -> pd.DataFrame:
    rows = []
    for spec in specs:
        s = row_summary(spec, records)
        s["paper"], s["table"], s["kind"] = spec.paper, spec.table, "row"
        rows.append(s)
    return pd.DataFrame(rows)


def markdown_tables(specs: list[Spec], records: list[RunRecord], title: str) -> str:
    """One Markdown table per (paper, table), with the paper's cited baselines as reference rows."""
    groups: dict[tuple[str, str], list[Spec]] = defaultdict(list)
    for spec in specs:
        groups[(spec.paper, spec.table)].append(spec)
    lines = [f"# {title}", ""]
    if not groups:
        lines.append("No specs match.")
    for (paper, table), group in sorted(groups.items()):
        lines += [f"## {paper} — {table}", ""]
        lines.append("| row | id | dataset | reported % | here % (mean ± std, n) | Δ | profile | status |")
        lines.append("|---|---|---|---:|---:|---:|---|---|")
        for spec in group:
            s = row_summary(spec, records)
            here = "–" if s["mean"] is None else f"{_fmt(s['mean'])} ± {_fmt(s['std'])} (n={s['n']})"
            lines.append(
                f"| {spec.row} | `{spec.id}` | {spec.dataset.name} | {_fmt(spec.reported)} | {here} | "
                f"{_fmt(s['delta'])} | {s['profile'] or '–'} | {s['status']} |"
            )
        refs = dict.fromkeys((r.method, r.arch, r.value) for spec in group for r in spec.references)
        for method, arch, value in refs:
            label = f"{method} {arch}".strip()
            lines.append(f"| *{label}* (cited baseline) |  |  | {_fmt(value)} |  |  |  | reference |")
        lines.append("")
    lines.append(
        "Status: *reproduced* = full-profile mean within the spec's tolerance of the paper; *below* = full"
        " profile, outside it; *custom-only* / *quick-only* / *smoke-only* = only runs with another budget exist"
        " (not comparable with the paper);"
        " *not run* = no record. Accuracy is the spec's metric (best or final test accuracy)."
    )
    return "\n".join(lines) + "\n"


def select_specs(specs: list[Spec], key: str) -> list[Spec]:
    """Specs whose paper, dataset or id equals ``key``."""
    key = key.lower()
    return [s for s in specs if key in (s.paper, s.dataset.name.lower(), s.id)]


def rebuild_all(specs: list[Spec], results: Path) -> list[Path]:
    """Write ``results/runs.csv``, ``results/<paper>.csv`` and ``results/tables/<paper>.md``."""
    records = iter_records(results)
    written = []
    df = runs_frame(records)
    path = results / "runs.csv"
    write_csv(df, path)
    written.append(path)
    for paper in sorted({s.paper for s in specs}):
        group = [s for s in specs if s.paper == paper]
        path = results / f"{paper}.csv"
        write_csv(comparison_frame(group, records), path)
        written.append(path)
        md = results / "tables" / f"{paper}.md"
        atomic_write_bytes(md, markdown_tables(group, records, f"{paper}: paper vs snnrepro").encode())
        written.append(md)
    return written


README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def update_readme(readme: Path, specs: list[Spec], results: Path) -> None:
    """Replace the README's results section (between the markers) with the current tables."""
    records = iter_records(results)
    body = []
    for paper in sorted({s.paper for s in specs}):
        group = [s for s in specs if s.paper == paper]
        text = markdown_tables(group, records, paper)
        body.append(
            "\n".join(
                line.replace("# ", "### ", 1)
                if line.startswith("# ")
                else line.replace("## ", "#### ", 1)
                if line.startswith("## ")
                else line
                for line in text.splitlines()
            )
        )
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} has no {README_START} ... {README_END} section")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    note = "Generated by `make tables` from the run records under `results/runs/` (do not edit by hand).\n\n"
    atomic_write_bytes(readme, (head + README_START + "\n" + note + "\n".join(body) + README_END + tail).encode())
