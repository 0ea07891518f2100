"""The comparison table (CSV + Markdown) and plot, built from the run records of ``OUT/runs``."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import pandas as pd

from snnrepro.compare.plan import METHODS, Entry
from snnrepro.io import atomic_write_bytes
from snnrepro.results.record import read_record, record_path

COLUMNS = [
    "family",
    "method",
    "arch",
    "seeds",
    "test_acc",
    "final_acc",
    "epoch_s",
    "spikes_per_sample",
    "effective_acs",
    "effective_macs",
    "latency",
    "peak_memory_mb",
    "footprint_kb",
    "commit",
]


def _mean_std(values: list[float]) -> tuple[float, float | None]:
    if not values:
        return math.nan, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _fmt_pm(mean: float, std: float | None, scale: float = 1.0, digits: int = 2) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean * scale:.{digits}f}" + (f" ± {std * scale:.{digits}f}" if std is not None else "")


def _num(v: float, digits: int = 3) -> str:
    if v is None or math.isnan(v):
        return "-"
    return f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:.3e}"


def collect(out: Path, entries: list[Entry], seeds: int) -> list[dict[str, Any]]:
    """One row per family: means over its finished seeds, with failed seeds counted."""
    memo = out / "peak_rss.json"
    peaks = json.loads(memo.read_text()) if memo.exists() else {}
    rows = []
    for e in entries:
        if e.spec is None:
            rows.append({"family": e.family, "method": METHODS[e.family], "arch": "-", "seeds": e.skipped})
            continue
        recs = [read_record(record_path(out, e.spec["id"], "full", s)) for s in range(seeds)]
        ok = [r for r in recs if r is not None and r.status == "ok"]
        bad = [r.status for r in recs if r is not None and r.status != "ok"]
        missing = sum(r is None for r in recs)
        metric = [r.metrics.get("neuromorphic", {}) for r in ok]

        def stat(key: str, m: list[dict[str, Any]] = metric) -> float:
            vals = [float(x[key]) for x in m if isinstance(x.get(key), int | float)]
            return statistics.fmean(vals) if vals else math.nan

        epoch_s = [statistics.fmean(h["epoch_s"] for h in r.history) for r in ok if r.history]
        rss = [peaks.get(f"{e.spec['id']}/seed-{r.seed}") for r in ok]
        gpu = stat("peak_memory_bytes")
        peak = gpu if not math.isnan(gpu) else (statistics.fmean(v for v in rss if v) if any(rss) else math.nan)
        units = {x.get("latency_unit") for x in metric} - {None}
        status = f"{len(ok)} of {seeds}" + "".join(f", {bad.count(s)} {s}" for s in sorted(set(bad)))
        status += f", {missing} not run" if missing else ""
        best = _mean_std([r.best_test_acc for r in ok if r.best_test_acc is not None])
        final = _mean_std([r.test_acc for r in ok if r.test_acc is not None])
        rows.append(
            {
                "family": e.family,
                "method": METHODS[e.family],
                "arch": e.spec["model"]["arch"],
                "seeds": status,
                "test_acc_mean": best[0],
                "test_acc_std": best[1],
                "final_acc_mean": final[0],
                "final_acc_std": final[1],
                "epoch_s": statistics.fmean(epoch_s) if epoch_s else math.nan,
                "spikes_per_sample": stat("spikes_per_sample"),
                "activation_sparsity": stat("activation_sparsity"),
                "effective_acs": stat("effective_acs"),
                "effective_macs": stat("effective_macs"),
                "dense_synops": stat("dense_synops"),
                "latency": stat("latency"),
                "latency_unit": "/".join(sorted(units)),
                "peak_memory_mb": peak / 2**20,
                "peak_memory_kind": "GPU allocated" if not math.isnan(gpu) else "process RSS",
                "footprint_kb": stat("footprint_bytes") / 1024,
                "template": e.template,
                "device": ok[0].device if ok else "",
                "commit": ",".join(sorted({r.git_commit for r in ok})),
            }
        )
    return rows


def incomplete(rows: list[dict[str, Any]], seeds: int) -> bool:
    """Whether some family with results has fewer than ``seeds`` finished seeds (``compare`` then exits 1)."""
    return any("test_acc_mean" in r and not r["seeds"].startswith(f"{seeds} of") for r in rows)


def markdown(rows: list[dict[str, Any]], title: str) -> str:
    head = (
        "| family | arch | seeds ok | best test acc % | final acc % | s/epoch | spikes/sample |"
        " ACs/sample | MACs/sample | latency | peak mem MB | footprint kB |"
    )
    lines = [f"## {title}", "", head, "|" + "---|" * 12]
    for r in rows:
        if "test_acc_mean" not in r:
            lines.append(f"| {r['family']} | - | skipped: {r['seeds']} |" + " - |" * 9)
            continue
        lat = f"{_num(r['latency'])} {r['latency_unit']}".strip() if not math.isnan(r["latency"]) else "-"
        lines.append(
            f"| {r['family']} | {r['arch']} | {r['seeds']} | {_fmt_pm(r['test_acc_mean'], r['test_acc_std'], 100)}"
            f" | {_fmt_pm(r['final_acc_mean'], r['final_acc_std'], 100)} | {_num(r['epoch_s'])}"
            f" | {_num(r['spikes_per_sample'])} | {_num(r['effective_acs'])} | {_num(r['effective_macs'])}"
            f" | {lat} | {_num(r['peak_memory_mb'])} | {_num(r['footprint_kb'])} |"
        )
    return "\n".join(lines) + "\n"


def write(out: Path, rows: list[dict[str, Any]], title: str, notes: str) -> None:
    """``OUT/compare.csv``, ``OUT/compare.md`` and ``OUT/compare.png``."""
    frame = pd.DataFrame(rows)
    atomic_write_bytes(out / "compare.csv", frame.to_csv(index=False, float_format="%.6g").encode())
    atomic_write_bytes(out / "compare.md", (markdown(rows, title) + "\n" + notes + "\n").encode())
    plot(rows, out / "compare.png", title)


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if "test_acc_mean" in r and not math.isnan(r["test_acc_mean"])]
    if not done:
        return
    names = [r["family"] for r in done]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    acc = [100 * r["test_acc_mean"] for r in done]
    err = [100 * (r["test_acc_std"] or 0.0) for r in done]
    axes[0].bar(names, acc, yerr=err, color="#4477aa")
    axes[0].set_ylabel("best test accuracy (%)")
    axes[0].set_ylim(max(0.0, min(acc) - 10), 100)
    ops = [
        (r["effective_acs"] or 0.0) + (0.0 if math.isnan(r["effective_macs"]) else r["effective_macs"]) for r in done
    ]
    axes[1].bar(names, ops, color="#ee6677")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("synaptic ops / sample (ACs + MACs)")
    axes[2].bar(names, [r["epoch_s"] for r in done], color="#228833")
    axes[2].set_ylabel("wall time / epoch (s)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = path.with_suffix(".tmp.png")
    fig.savefig(buf, dpi=110)
    plt.close(fig)
    buf.replace(path)
