"""Aggregate run records into CSVs and paper-vs-toolkit comparison tables.

Each run writes only its own JSON record, so concurrent runs never contend for a file;
the CSVs and tables are rebuilt from all records (atomically) whenever asked.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from pathlib import Path

import pandas as pd

from snnrepro.io import atomic_write_bytes
from snnrepro.registry import TABLES
from snnrepro.results.contribution import TableContribution
from snnrepro.results.contribution import fmt as _fmt
from snnrepro.results.cost import CostContext
from snnrepro.results.record import RunRecord, iter_records
from snnrepro.results.verdict import UNSTABLE_DROP_PP, RowVerdict, gap, row_verdict
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
def runs_frame(records: list[RunRecord]) -> pd.DataFrame:
    rows = [{c: getattr(r, c) for c in RUN_COLUMNS} for r in records]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


#: CSV/JSON/TSV rounding: percentages to 2 decimals, accuracies as fractions to 4, seconds to 1; other floats 4
#: significant digits.  A std over fewer than two seeds is empty (nothing to estimate it from).
PERCENT_COLUMNS = {"reported", "mean", "std", "final", "delta", "gap_measured", "gap_reported", "acc_mean", "acc_std"}
FRACTION_COLUMNS = {"test_acc", "best_test_acc"}
SECONDS_COLUMNS = {"wall_s"}


def _round_value(col: str, v: object) -> object:
    v = v.item() if hasattr(v, "item") and not isinstance(v, str) else v  # numpy scalar -> Python number
    if isinstance(v, bool) or not isinstance(v, float | int):
        return v
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if col in PERCENT_COLUMNS:
        return round(float(v), 2)
    if col in FRACTION_COLUMNS:
        return round(float(v), 4)
    if col in SECONDS_COLUMNS:
        return round(float(v), 1)
    return float(f"{v:.4g}") if isinstance(v, float) else v


def rounded_rows(df: pd.DataFrame) -> list[dict[str, object]]:
    """``df``'s rows with numbers rounded for reading (see ``PERCENT_COLUMNS``), NaN as None, std None for n < 2."""
    rows = []
    for rec in df.astype(object).where(df.notna(), None).to_dict(orient="records"):
        row = {str(k): _round_value(str(k), v) for k, v in rec.items()}
        n = row.get("n")
        if isinstance(n, int | float) and n < 2:
            for k in row:
                if k == "std" or k.endswith("_std"):
                    row[k] = None
        rows.append(row)
    return rows


def csv_text(df: pd.DataFrame, sep: str = ",") -> str:
    """``df`` as CSV (or TSV with ``sep="\\t"``) with rounded numbers and empty cells for missing values."""
    out = pd.DataFrame(rounded_rows(df), columns=[str(c) for c in df.columns], dtype=object)
    if sep == "\t":  # one line per row: no tabs or newlines inside a field
        out = out.map(lambda v: " ".join(v.split()) if isinstance(v, str) else v)
    return out.to_csv(index=False, sep=sep)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_bytes(path, csv_text(df).encode())


def _baselines(specs: list[Spec]) -> set[str]:
    return {s.baseline for s in specs if s.baseline}


def row_summary(
    spec: Spec,
    records: list[RunRecord],
    *,
    all_specs: list[Spec] | None = None,
    min_seeds: int | None = None,
    verdicts: dict[str, RowVerdict] | None = None,
    costs: CostContext | None = None,
) -> dict[str, object]:
    """One comparison row (:mod:`snnrepro.results.verdict`): best available profile's mean ± std over the
    finished seeds, final beside best, seeds counted by status, Δ, the claimed gap, provenance flags.

    ``spec`` must be the full-profile spec: a run labelled ``full`` counts as the paper's budget only if
    its spec hash equals this spec's; a full run with overridden keys (``--set``, ``--epochs``) is
    reported under the profile name ``custom``.
    """
    pool = all_specs if all_specs is not None else [spec]
    cache = verdicts if verdicts is not None else {}

    def verdict_of(s: Spec) -> RowVerdict:
        if s.id not in cache:
            cache[s.id] = row_verdict(s, records, min_seeds=min_seeds, is_baseline=s.id in _baselines(pool))
        return cache[s.id]

    v = verdict_of(spec)
    g = None
    if spec.baseline:
        base_spec = next((s for s in pool if s.id == spec.baseline), None)
        g = gap(spec, v, base_spec, verdict_of(base_spec) if base_spec else None)
    return {
        "id": spec.id,
        "row": spec.row,
        "dataset": spec.dataset.name,
        "arch": spec.model.arch,
        "reported": spec.reported,
        "profile": v.profile,
        "n": v.n,
        "seeds_required": v.seeds_required,
        "seeds": v.seeds,
        "mean": v.mean,
        "std": v.std,
        "final": v.final_mean,
        "delta": v.delta,
        "baseline": spec.baseline or "",
        "gap_measured": g.measured if g else None,
        "gap_reported": g.reported if g else None,
        "gap": g.verdict if g else "",
        "status": v.status,
        "flags": "; ".join(v.flags),
        **(costs.describe(spec, records) if costs is not None else {}),
    }


def comparison_frame(
    specs: list[Spec],
    records: list[RunRecord],
    *,
    all_specs: list[Spec] | None = None,
    min_seeds: int | None = None,
    costs: CostContext | None = None,
) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    cache: dict[str, RowVerdict] = {}
    for spec in specs:
        s = row_summary(
            spec, records, all_specs=all_specs or specs, min_seeds=min_seeds, verdicts=cache, costs=costs
        )
        s["paper"], s["table"], s["kind"] = spec.paper, spec.table, "row"
        rows.append(s)
    return pd.DataFrame(rows)


def _here(s: dict[str, object]) -> str:
    if s["mean"] is None:
        return "–"
    std = f" ± {_fmt(s['std'])}" if s["std"] is not None else ""  # type: ignore[arg-type]
    return f"{_fmt(s['mean'])}{std}"  # type: ignore[arg-type]


def _gap(s: dict[str, object]) -> str:
    if not s["baseline"]:
        return ""
    m, r = s["gap_measured"], s["gap_reported"]
    here = "–" if m is None else f"{m:+.2f}"
    paper = "–" if r is None else f"{r:+.2f}"
    return f"{here} vs {paper} (`{s['baseline']}`): {s['gap']}"


def markdown_tables(
    specs: list[Spec],
    records: list[RunRecord],
    title: str,
    *,
    all_specs: list[Spec] | None = None,
    min_seeds: int | None = None,
    costs: CostContext | None = None,
) -> str:
    """One Markdown table per (paper, table), with the paper's cited baselines as reference rows.

    With ``costs``, each row also states its full-budget cost (CPU and GPU hours per seed, from
    measurements) and what blocks it here.
    """
    groups: dict[tuple[str, str], list[Spec]] = defaultdict(list)
    for spec in specs:
        groups[(spec.paper, spec.table)].append(spec)
    lines = [f"# {title}", ""]
    if min_seeds is not None:
        lines += [f"Verdicts need {min_seeds} finished seed(s) per row (set by --min-seeds), not the spec's.", ""]
    if not groups:
        lines.append("No specs match.")
    cache: dict[str, RowVerdict] = {}
    pool = all_specs or specs
    for (paper, table), group in sorted(groups.items()):
        lines += [f"## {paper} — {table}", ""]
        lines.append(
            "| row | id | dataset | reported % | here % (mean ± std) | final % | seeds | Δ | gap here vs paper "
            "| profile | status | flags |" + (" full-budget cost | blocked by |" if costs else "")
        )
        lines.append("|---|---|---|---:|---:|---:|---|---:|---|---|---|---|" + ("---|---|" if costs else ""))
        for spec in group:
            s = row_summary(spec, records, all_specs=pool, min_seeds=min_seeds, verdicts=cache, costs=costs)
            extra = f" {s['cost']} | {s['blocker']} |" if costs else ""
            seeds = s["seeds"] or "–"
            if s["profile"] == "full":
                seeds = f"{seeds} (needs {s['seeds_required']})"
            lines.append(
                f"| {spec.row} | `{spec.id}` | {spec.dataset.name} | {_fmt(spec.reported)} | {_here(s)} | "
                f"{_fmt(s['final'])} | {seeds} | {_fmt(s['delta'])} | {_gap(s)} | {s['profile'] or '–'} | "  # type: ignore[arg-type]
                f"{s['status']} | {s['flags']} |{extra}"
            )
        refs = dict.fromkeys(
            (r.method, r.arch, r.value, spec.dataset.name) for spec in group for r in spec.references
        )
        for method, arch, value, dataset in refs:
            label = f"{method} {arch}".strip()
            cells = f"| *{label}* (cited baseline) |  | {dataset} | {_fmt(value)} |"
            lines.append(cells + "  |  |  |  |  |  | reference |  |" + ("  |  |" if costs else ""))
        lines.append("")
    lines.append(VERDICT_LEGEND)
    return "\n".join(lines) + "\n"


VERDICT_LEGEND = (
    "Status: *reproduced* = paper's budget (full profile), as many finished seeds as the spec asks for, mean"
    f" within the spec's tolerance of the paper and no seed collapsed; *below* = the same, outside it; *above* ="
    " a baseline row above its reported value by more than the tolerance (the paper's claimed gap shrinks);"
    f" *unstable* = some seed's final accuracy is more than {UNSTABLE_DROP_PP:g} points below its best (a"
    " collapse), whatever the best; *n=k of m* = only k of the m seeds finished; *custom-only* / *quick-only* /"
    " *smoke-only* = only runs with another budget exist (not comparable with the paper); *not run* = no"
    " record.  *here* is the spec's metric: like the papers, *best* accuracy is the best epoch's **test**"
    " accuracy (chosen on the test set; `train.val_split` chooses the epoch on held-out training data"
    " instead); *final* is the last epoch's.  Ties (e.g. all outputs silent) count as wrong.  Seeds are"
    " counted by status (failed, diverged and interrupted ones included).  *gap* = this row minus its"
    " baseline row, measured vs reported: *holds* when it has the reported sign and reaches the reported size"
    " less the row's tolerance (*smaller*, *reversed* otherwise; *incomplete* while a row lacks seeds; *not"
    " measured* while a row has no result; *not comparable* across budgets; *measured, no paper gap* for"
    " substitute rows the paper gives no number for).  *flags*: records made on a dirty tree, on a"
    " commit whose family code changed since, or on several commits."
)


def contributions() -> list[TableContribution]:
    """The tables the analyses declare (:mod:`snnrepro.results.contribution`), by name."""
    return [TABLES.get(name) for name in TABLES.names()]


def contribution_frame(c: TableContribution, specs: list[Spec], records: list[RunRecord]) -> pd.DataFrame:
    """An analysis' table as a frame (CSV, JSON, TSV)."""
    return pd.DataFrame(c.rows(specs, records), columns=list(c.columns))


def contribution_markdown(c: TableContribution, specs: list[Spec], records: list[RunRecord], key: str) -> str:
    """An analysis' table in Markdown under the heading ``<key>: <its title>``."""
    return c.markdown(c.rows(specs, records), f"{key}: {c.title}")


def select_specs(specs: list[Spec], key: str) -> list[Spec]:
    """Specs whose paper, dataset or id equals ``key``."""
    key = key.lower()
    return [s for s in specs if key in (s.paper, s.dataset.name.lower(), s.id)]


def choose_specs(specs: list[Spec], keys: list[str]) -> list[Spec]:
    """The union of the specs each key selects (:func:`select_specs`), first come first; a key selecting none
    is refused."""
    chosen: list[Spec] = []
    for k in keys:
        found = select_specs(specs, k)
        if not found:
            raise ValueError(f"no spec has paper, dataset or id {k!r}; `snnrepro list` shows them")
        chosen += [s for s in found if s.id not in {c.id for c in chosen}]
    return chosen


def rebuild_all(specs: list[Spec], results: Path, data_root: Path | None = None) -> list[Path]:
    """Write ``results/runs.csv``, ``results/<paper>.csv`` and ``results/tables/<paper>.md``.

    ``data_root``: where the datasets are looked for when stating what blocks a row (``None``: not stated).
    """
    records = iter_records(results)
    costs = CostContext.load(results, data_root)
    written = []
    df = runs_frame(records)
    path = results / "runs.csv"
    write_csv(df, path)
    written.append(path)
    for paper in sorted({s.paper for s in specs}):
        group = [s for s in specs if s.paper == paper]
        path = results / f"{paper}.csv"
        write_csv(comparison_frame(group, records, all_specs=specs, costs=costs), path)
        written.append(path)
        md = results / "tables" / f"{paper}.md"
        text = markdown_tables(group, records, f"{paper}: paper vs snnrepro", all_specs=specs, costs=costs)
        atomic_write_bytes(md, text.encode())
        written.append(md)
        for c in contributions():  # each analysis' own table, for a paper whose records hold its output
            if any(c.has_output(r) for r in records if r.paper == paper):
                md = results / "tables" / f"{paper}-{c.name}.md"
                atomic_write_bytes(md, contribution_markdown(c, group, records, paper).encode())
                written.append(md)
    return written


README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def compare_section(results: Path, base: Path) -> str:
    """The ``snnrepro compare`` tables under ``results/compare/*/`` with their plots, for the README."""
    folders = sorted(p.parent for p in (results / "compare").glob("*/compare.md"))
    if not folders:
        return ""
    parts = ["### Comparison across learning rules (`snnrepro compare`)", ""]
    for folder in folders:
        text = (folder / "compare.md").read_text().replace("## ", "#### ", 1)
        parts.append(text)
        png = folder / "compare.png"
        if png.exists():
            rel = os.path.relpath(png, base)
            parts.append(f"![{folder.name}]({rel})\n")
    return "\n".join(parts)


def update_readme(readme: Path, specs: list[Spec], results: Path, data_root: Path | None = None) -> None:
    """Replace the README's results section (between the markers) with the current tables."""
    records = iter_records(results)
    costs = CostContext.load(results, data_root)
    from snnrepro.results.plots import readme_links  # the PNGs `snnrepro plot all` wrote, beside their tables

    body = [readme_links(results, None, readme.parent)]
    for paper in sorted({s.paper for s in specs}):
        group = [s for s in specs if s.paper == paper]
        text = markdown_tables(group, records, paper, all_specs=specs, costs=costs)
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
        body.append(readme_links(results, paper, readme.parent))
    body.append(compare_section(results, readme.parent))
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} has no {README_START} ... {README_END} section")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    note = "Generated by `make tables` from the run records under `results/runs/` (do not edit by hand).\n\n"
    atomic_write_bytes(readme, (head + README_START + "\n" + note + "\n".join(body) + README_END + tail).encode())
