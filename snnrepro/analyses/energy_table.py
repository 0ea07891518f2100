"""The ``energy`` analysis' table (BPSA/BPTA paper's Table 5 and Fig. 2): firing rates and E_ANN/E_SNN.

Torch-free (the tables import it without the analysis, :mod:`snnrepro.analyses.energy`); registered
in ``TABLES`` as the ``energy`` analysis' :class:`~snnrepro.results.contribution.TableContribution`.
"""

from __future__ import annotations

from functools import partial

from snnrepro.registry import TABLES
from snnrepro.results.contribution import Rows, TableContribution, fmt
from snnrepro.results.record import RunRecord
from snnrepro.results.verdict import PROFILE_ORDER, by_profile, mean_std, metric_value
from snnrepro.spec import Spec

NAME = "energy"

COLUMNS = (
    "paper", "table", "id", "row", "profile", "data", "n", "acc_mean", "acc_std", "firing_rate_mean",
    "firing_rate_std", "reported_firing_rate", "ee_paper_mean", "ee_paper_std", "reported_ee", "ee_synops_mean",
    "T_mean", "layer_rates", "note",
)  # fmt: skip


def _has_analysis(spec: Spec) -> bool:
    return any(a.name == NAME for a in spec.analyses)


def rows(specs: list[Spec], records: list[RunRecord]) -> Rows:
    """Energy rows from the ``energy`` analysis in the run records.

    One row per spec and profile with finished (``ok``) runs: mean over seeds of the accuracy, the
    firing rate, ``ee_paper`` (Eq. 1 from the rate), ``ee_synops`` (from counted operations) and the
    per-LIF-layer rates, next to the paper's values (``reported_firing_rate`` / ``reported_ee``).
    Runs whose records hold no energy output get a row that says so; specs without runs appear
    (as *not run*) only when they configure an ``energy`` analysis.
    """
    out: Rows = []
    for spec in specs:
        mine = [r for r in records if r.id == spec.id and r.status == "ok"]
        params = next((a.params for a in spec.analyses if a.name == NAME), {})
        base: dict[str, object] = {
            "id": spec.id,
            "row": spec.row,
            "paper": spec.paper,
            "table": spec.table,
            "reported_firing_rate": params.get("reported_firing_rate"),
            "reported_ee": params.get("reported_ee"),
        }
        if not mine:
            if _has_analysis(spec):
                out.append({**base, "profile": "", "n": 0, "note": "not run"})
            continue
        groups = by_profile(spec, mine)
        out += [_profile_row(spec, base, profile, runs) for profile in PROFILE_ORDER if (runs := groups.get(profile))]
    return out


def _profile_row(spec: Spec, base: dict[str, object], profile: str, runs: list[RunRecord]) -> dict[str, object]:
    """The row of ``spec``'s finished runs at ``profile``."""
    with_energy = [r for r in runs if isinstance(r.metrics.get(NAME), dict)]
    row: dict[str, object] = {**base, "profile": profile, "n": len(with_energy)}
    row["data"] = "/".join(sorted({r.data_source for r in runs}))
    if not with_energy:
        why = "" if _has_analysis(spec) else " (the spec has no energy analysis)"
        row["note"] = f"no energy analysis in the {len(runs)} run record(s){why}"
        return row
    en = [r.metrics[NAME] for r in with_energy]
    acc = [100.0 * v for r in with_energy if (v := metric_value(r, spec.metric)) is not None]
    row["acc_mean"], row["acc_std"] = mean_std(acc)
    for key in ("firing_rate", "ee_paper", "ee_synops", "T"):
        vals = [float(e[key]) for e in en if isinstance(e.get(key), int | float)]
        row[f"{key}_mean"], row[f"{key}_std"] = mean_std(vals)
    layers = sorted({k for e in en for k in e if k.startswith("rate_lif")}, key=lambda k: int(k[8:]))
    row["layer_rates"] = " / ".join(fmt(mean_std([float(e[k]) for e in en if k in e])[0], 3) for k in layers)
    for key in ("reported_firing_rate", "reported_ee"):
        if row[key] is None:
            row[key] = next((e[key] for e in en if key in e), None)
    missing = len(runs) - len(with_energy)
    row["note"] = f"{missing} other run record(s) without energy output" if missing else ""
    return row


def _pm(row: dict[str, object], key: str, digits: int) -> str:
    """``mean ± std`` of ``row[key_mean]`` (std only over several seeds), ``–`` when absent."""
    m, s = row.get(f"{key}_mean"), row.get(f"{key}_std")
    if m is None:
        return "–"
    return fmt(m, digits) + (f" ± {fmt(s, digits)}" if s and row["n"] > 1 else "")  # type: ignore[arg-type, operator]


def markdown(rows: Rows, title: str) -> str:
    """Markdown energy table (firing rate, E_ANN/E_SNN) of ``rows``."""
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
            f"{pm('firing_rate', 3)} | {fmt(r['reported_firing_rate'], 3)} | {pm('ee_paper', 1)} | "  # type: ignore[arg-type]
            f"{fmt(r['reported_ee'], 1)} | {pm('ee_synops', 1)} | {pm('T', 0)} | {r.get('layer_rates') or '–'} | "  # type: ignore[arg-type]
            f"{note} |"
        )
    lines += [
        "",
        "Firing rate = spikes per neuron per step over all LIF layers (test set); EE (Eq. 1) = E_MAC / (rate x E_AC"
        " x T); EE (counted ops) = ANN MACs x E_MAC / (first-layer MACs x E_MAC x T + spike-driven ACs x E_AC); mean"
        " ± std over seeds. Quick/smoke profiles run other data and budgets: not comparable with the paper.",
    ]
    return "\n".join(lines) + "\n"


TABLES.register(NAME)(TableContribution(NAME, "energy (firing rate, E_ANN/E_SNN)", COLUMNS, rows, markdown))
