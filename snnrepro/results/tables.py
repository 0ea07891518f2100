"""Aggregate run records into CSVs and paper-vs-toolkit comparison tables.

Each run writes only its own JSON record, so concurrent runs never contend for a file;
the CSVs and tables are rebuilt from all records (atomically) whenever asked.
"""

from __future__ import annotations

import math
from collections import defaultdict
from functools import partial
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


def _mean_std(vals: list[float]) -> tuple[float | None, float | None]:
    if not vals:
        return None, None
    mean = sum(vals) / len(vals)
    std = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5 if len(vals) > 1 else 0.0
    return mean, std


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
        by_profile: dict[str, list[RunRecord]] = defaultdict(list)
        full_hash = spec.hash()
        for r in mine:
            by_profile["custom" if r.profile == "full" and r.spec_hash != full_hash else r.profile].append(r)
        for profile in PROFILE_ORDER:
            runs = by_profile.get(profile)
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
            acc = [100.0 * v for r in with_energy if (v := _metric(r, spec.metric)) is not None]
            row["acc_mean"], row["acc_std"] = _mean_std(acc)
            for key in ("firing_rate", "ee_paper", "ee_synops", "T"):
                vals = [float(e[key]) for e in en if isinstance(e.get(key), int | float)]
                row[f"{key}_mean"], row[f"{key}_std"] = _mean_std(vals)
            layers = sorted({k for e in en for k in e if k.startswith("rate_lif")}, key=lambda k: int(k[8:]))
            row["layer_rates"] = " / ".join(
                _fmt(_mean_std([float(e[k]) for e in en if k in e])[0], 3) for k in layers
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
        if any(isinstance(r.metrics.get("energy"), dict) for r in records if r.paper == paper):
            md = results / "tables" / f"{paper}-energy.md"
            text = energy_markdown(group, records, f"{paper}: energy (firing rate, E_ANN/E_SNN)")
            atomic_write_bytes(md, text.encode())
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
