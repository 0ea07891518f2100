"""Aggregate run records into CSVs and paper-vs-toolkit comparison tables.

Each run writes only its own JSON record, so concurrent runs never contend for a file;
the CSVs and tables are rebuilt from all records (atomically) whenever asked.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from functools import partial
from pathlib import Path

import pandas as pd

from snnrepro.io import atomic_write_bytes
from snnrepro.results.cost import CostContext
from snnrepro.results.record import RunRecord, iter_records
from snnrepro.results.verdict import (
    PROFILE_ORDER,
    UNSTABLE_DROP_PP,
    RowVerdict,
    by_profile,
    gap,
    mean_std,
    metric_value,
    row_verdict,
)
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


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


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
    " less the row's tolerance (*smaller*, *reversed* otherwise).  *flags*: records made on a dirty tree, on a"
    " commit whose family code changed since, or on several commits."
)


def _has_energy_analysis(spec: Spec) -> bool:
    return any(a.name == "energy" for a in spec.analyses)


def energy_rows(specs: list[Spec], records: list[RunRecord]) -> list[dict[str, object]]:
    """Energy rows (BPSA/BPTA paper's Table 5 and Fig. 2) from the ``energy`` analysis in the run records.

    One row per spec and profile with finished (``ok``) runs: mean over seeds of the accuracy, the
    firing rate, ``ee_paper`` (Eq. 1 from the rate), ``ee_synops`` (from counted operations) and the
    per-LIF-layer rates, next to the paper's values (``reported_firing_rate`` / ``reported_ee``).
    Runs whose records hold no energy output get a row that says so; specs without runs appear
    (as *not run*) only when they configure an ``energy`` analysis.
    """
    rows: list[dict[str, object]] = []
    for spec in specs:
        mine = [r for r in records if r.id == spec.id and r.status == "ok"]
        params = next((a.params for a in spec.analyses if a.name == "energy"), {})
        base: dict[str, object] = {
            "id": spec.id,
            "row": spec.row,
            "paper": spec.paper,
            "table": spec.table,
            "reported_firing_rate": params.get("reported_firing_rate"),
            "reported_ee": params.get("reported_ee"),
        }
        if not mine:
            if _has_energy_analysis(spec):
                rows.append({**base, "profile": "", "n": 0, "note": "not run"})
            continue
        groups = by_profile(spec, mine)
        for profile in PROFILE_ORDER:
            runs = groups.get(profile)
            if not runs:
                continue
            with_energy = [r for r in runs if isinstance(r.metrics.get("energy"), dict)]
            row: dict[str, object] = {**base, "profile": profile, "n": len(with_energy)}
            data = sorted({r.data_source for r in runs})
            row["data"] = "/".join(data)
            if not with_energy:
                why = "" if _has_energy_analysis(spec) else " (the spec has no energy analysis)"
                row["note"] = f"no energy analysis in the {len(runs)} run record(s){why}"
                rows.append(row)
                continue
            en = [r.metrics["energy"] for r in with_energy]
            acc = [100.0 * v for r in with_energy if (v := metric_value(r, spec.metric)) is not None]
            row["acc_mean"], row["acc_std"] = mean_std(acc)
            for key in ("firing_rate", "ee_paper", "ee_synops", "T"):
                vals = [float(e[key]) for e in en if isinstance(e.get(key), int | float)]
                row[f"{key}_mean"], row[f"{key}_std"] = mean_std(vals)
            layers = sorted({k for e in en for k in e if k.startswith("rate_lif")}, key=lambda k: int(k[8:]))
            row["layer_rates"] = " / ".join(
                _fmt(mean_std([float(e[k]) for e in en if k in e])[0], 3) for k in layers
            )
            for key in ("reported_firing_rate", "reported_ee"):
                if row[key] is None:
                    row[key] = next((e[key] for e in en if key in e), None)
            missing = len(runs) - len(with_energy)
            row["note"] = f"{missing} other run record(s) without energy output" if missing else ""
            rows.append(row)
    return rows


ENERGY_COLUMNS = [
    "paper", "table", "id", "row", "profile", "data", "n", "acc_mean", "acc_std", "firing_rate_mean",
    "firing_rate_std", "reported_firing_rate", "ee_paper_mean", "ee_paper_std", "reported_ee", "ee_synops_mean",
    "T_mean", "layer_rates", "note",
]  # fmt: skip


def energy_frame(specs: list[Spec], records: list[RunRecord]) -> pd.DataFrame:
    return pd.DataFrame(energy_rows(specs, records), columns=ENERGY_COLUMNS)


def _pm(row: dict[str, object], key: str, digits: int) -> str:
    """``mean ± std`` of ``row[key_mean]`` (std only over several seeds), ``–`` when absent."""
    m, s = row.get(f"{key}_mean"), row.get(f"{key}_std")
    if m is None:
        return "–"
    return _fmt(m, digits) + (f" ± {_fmt(s, digits)}" if s and row["n"] > 1 else "")  # type: ignore[arg-type, operator]


def energy_markdown(specs: list[Spec], records: list[RunRecord], title: str) -> str:
    """Markdown energy table (firing rate, E_ANN/E_SNN) for ``specs`` from the run records' ``energy`` output."""
    rows = energy_rows(specs, records)
    lines = [f"# {title}", ""]
    if not rows:
        lines.append("No run records and no spec with an `energy` analysis match.")
        return "\n".join(lines) + "\n"
    lines.append(
        "| row | id | profile | n | acc % | firing rate | paper rate | EE (Eq. 1) | paper EE | EE (counted ops) "
        "| T | rate per LIF layer | note |"
    )
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        pm = partial(_pm, r)
        note = str(r.get("note") or "")
        if r.get("data") and r["data"] != "real":
            note = (note + "; " if note else "") + f"data: {r['data']}"
        lines.append(
            f"| {r['row']} | `{r['id']}` | {r['profile'] or '–'} | {r['n']} | {pm('acc', 2)} | "
            f"{pm('firing_rate', 3)} | {_fmt(r['reported_firing_rate'], 3)} | {pm('ee_paper', 1)} | "  # type: ignore[arg-type]
            f"{_fmt(r['reported_ee'], 1)} | {pm('ee_synops', 1)} | {pm('T', 0)} | {r.get('layer_rates') or '–'} | "  # type: ignore[arg-type]
            f"{note} |"
        )
    lines += [
        "",
        "Firing rate = spikes per neuron per step over all LIF layers (test set); EE (Eq. 1) = E_MAC / (rate x E_AC"
        " x T); EE (counted ops) = ANN MACs x E_MAC / (first-layer MACs x E_MAC x T + spike-driven ACs x E_AC); mean"
        " ± std over seeds. Quick/smoke profiles run other data and budgets: not comparable with the paper.",
    ]
    return "\n".join(lines) + "\n"


def select_specs(specs: list[Spec], key: str) -> list[Spec]:
    """Specs whose paper, dataset or id equals ``key``."""
    key = key.lower()
    return [s for s in specs if key in (s.paper, s.dataset.name.lower(), s.id)]


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
        if any(isinstance(r.metrics.get("energy"), dict) for r in records if r.paper == paper):
            md = results / "tables" / f"{paper}-energy.md"
            text = energy_markdown(group, records, f"{paper}: energy (firing rate, E_ANN/E_SNN)")
            atomic_write_bytes(md, text.encode())
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
