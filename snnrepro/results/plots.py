"""Plots from the run records (matplotlib, Agg, PNG): ``snnrepro plot ID|PAPER|all``.

* training curves of one row, one figure per profile, every seed overlaid (test solid, train dashed);
* accuracy against the number of time steps T for the papers' T sweeps (any table whose rows all state
  ``T = n`` with several T per method, e.g. BPSA Table 6 and BRP Fig. 7; a sweep's row without the
  ``-t<n>`` suffix, e.g. ``mnist-brp-cnn`` at T = 20, joins its sweep);
* the BPSA ablation (Table 4) and BRP target variants (Fig. 5) as bars, measured next to reported;
* reported against measured for every row with results (all papers, and one per paper).

Everything is written under ``<results>/plots/`` atomically; ``make tables`` regenerates it and the
README's results section links it.  Measured values follow the tables: the best available profile's
mean ± std over finished seeds on real data; points from another budget than the paper's are drawn
hollow and labelled with their profile (and dataset when it differs).
"""

from __future__ import annotations

import io
import os
import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from snnrepro.io import atomic_write_bytes
from snnrepro.results.record import RunRecord, iter_records
from snnrepro.results.verdict import by_profile, row_verdict
from snnrepro.spec import Spec

#: (paper, table) groups drawn as bars of variants, measured next to reported
BAR_TABLES = {("bpsta", "Table 4"), ("brp", "Fig. 5"), ("brp", "Fig. 5 (substitute)")}
PAPER_COLOURS = {"stdbp": "C0", "rsn": "C1", "brp": "C2", "bpsta": "C3", "iir": "C4"}
T_IN_ROW = re.compile(r"\bT\s*=\s*(\d+)")
T_IN_ID = re.compile(r"-t\d+(?=-|$)")
DPI = 100


@dataclass
class Measured:
    """A row's measured value as the tables show it (percent)."""

    mean: float
    std: float | None
    n: int
    profile: str
    dataset: str  # the dataset the finished runs used (quick profiles may use another)

    @property
    def paper_budget(self) -> bool:
        return self.profile == "full"

    def tag(self, spec: Spec) -> str:
        """``''`` for the paper's budget, else ``' (quick)'`` / ``' (quick, digits)'``."""
        if self.paper_budget and self.dataset == spec.dataset.name:
            return ""
        extra = "" if self.dataset == spec.dataset.name else f", {self.dataset}"
        return f" ({self.profile}{extra})"


def measured(spec: Spec, records: list[RunRecord]) -> Measured | None:
    v = row_verdict(spec, records, check_provenance=False)
    if v.mean is None:
        return None
    runs = by_profile(spec, records).get(v.profile, [])
    used = sorted({(r.spec.get("dataset") or {}).get("name", "?") for r in runs if r.status == "ok"})
    return Measured(v.mean, v.std, v.n, v.profile, used[0] if len(used) == 1 else "/".join(used) or "?")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _figure(width: float, height: float):  # noqa: ANN202 - matplotlib types
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(fig, path: Path) -> Path:  # noqa: ANN001
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    atomic_write_bytes(path, buf.getvalue())
    return path


def _wrap(text: str, width: int = 70) -> str:
    return "\n".join(textwrap.wrap(text, width))


# --------------------------------------------------------------------------- training curves
def training_curves(spec: Spec, records: list[RunRecord], out: Path) -> list[Path]:
    """One PNG per profile with history: accuracy and loss against epoch, every seed overlaid."""
    written = []
    for profile, runs in sorted(by_profile(spec, records).items()):
        runs = sorted((r for r in runs if r.history), key=lambda r: r.seed)
        if not runs:
            continue
        fig = _figure(10, 4)
        ax_acc, ax_loss = fig.subplots(1, 2)
        for i, r in enumerate(runs):
            colour = f"C{i % 10}"
            ep = [h.get("epoch", k + 1) for k, h in enumerate(r.history)]
            label = f"seed {r.seed}" + ("" if r.status == "ok" else f" ({r.status})")
            for ax, key, scale in ((ax_acc, "acc", 100.0), (ax_loss, "loss", 1.0)):
                for split, style in (("test", "-"), ("train", "--")):
                    ys = [h.get(f"{split}_{key}") for h in r.history]
                    pts = [(e, scale * y) for e, y in zip(ep, ys, strict=True) if isinstance(y, int | float)]
                    if pts:
                        ax.plot(*zip(*pts, strict=True), style, color=colour, marker="." if len(pts) < 30 else None,
                                label=f"{label} {split}")  # fmt: skip
        if spec.reported is not None:
            ax_acc.axhline(spec.reported, color="k", linestyle=":", linewidth=1, label=f"paper {spec.reported:.2f}")
        data = sorted({r.data_source for r in runs} | {(r.spec.get("dataset") or {}).get("name", "?") for r in runs})
        from matplotlib.ticker import MaxNLocator

        for ax in (ax_acc, ax_loss):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_acc.set(xlabel="epoch", ylabel="accuracy %", title="accuracy (test solid, train dashed)")
        ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
        ax_acc.legend(fontsize=7, loc="lower right")
        ax_acc.grid(alpha=0.3)
        ax_loss.grid(alpha=0.3)
        fig.suptitle(_wrap(f"{spec.id} — {profile} profile, {len(runs)} seed(s), data {', '.join(data)}"), fontsize=10)
        written.append(_save(fig, out / spec.paper / "curves" / f"{spec.id}-{profile}.png"))
    return written


# --------------------------------------------------------------------------- accuracy against T
def _t_of(spec: Spec) -> int | None:
    m = T_IN_ROW.search(spec.row)
    return int(m.group(1)) if m else None


def _series_label(spec: Spec) -> str:
    label = T_IN_ROW.sub("", spec.row).replace("SUBSTITUTE for TIDIGITS:", "").strip(" ,")
    label = re.sub(r"\s*,\s*,", ",", label)
    return label.split(" (")[0].strip(" ,") or spec.id


def t_sweeps(specs: list[Spec]) -> dict[tuple[str, str], dict[str, list[Spec]]]:
    """``{(paper, table): {series key: specs ordered by T}}`` for every table that sweeps T."""
    by_id = {s.id: s for s in specs}
    groups: dict[tuple[str, str], list[Spec]] = defaultdict(list)
    for s in specs:
        groups[(s.paper, s.table)].append(s)
    out = {}
    for key, group in groups.items():
        if not all(_t_of(s) is not None for s in group):
            continue
        series: dict[str, list[Spec]] = defaultdict(list)
        for s in group:
            series[T_IN_ID.sub("", s.id)].append(s)
        for base, members in series.items():
            if base in by_id and _t_of(by_id[base]) is not None and by_id[base] not in members:
                members.append(by_id[base])  # the main row of the sweep (another table) at its own T
        if any(len({_t_of(s) for s in m}) > 1 for m in series.values()):
            out[key] = {k: sorted(m, key=lambda s: _t_of(s) or 0) for k, m in sorted(series.items())}
    return out


def accuracy_vs_t(key: tuple[str, str], series: dict[str, list[Spec]], records: list[RunRecord], out: Path) -> Path:
    paper, table = key
    datasets = sorted({m[0].dataset.name for m in series.values()})
    fig = _figure(5.5 * len(datasets), 4.2)
    axes = fig.subplots(1, len(datasets), squeeze=False)[0]
    for ax, ds in zip(axes, datasets, strict=True):
        mine = [(k, m) for k, m in series.items() if m[0].dataset.name == ds]
        for i, (_, members) in enumerate(mine):
            colour, label = f"C{i % 10}", _series_label(members[0])
            rep = [(_t_of(s), s.reported) for s in members if s.reported is not None]
            if rep:
                ax.plot(*zip(*rep, strict=True), "--o", color=colour, mfc="none", label=f"{label} paper")
            got = [(s, m) for s in members if (m := measured(s, records)) is not None]
            if got:
                xs = [_t_of(s) for s, _ in got]
                ys = [m.mean for _, m in got]
                errs = [m.std or 0.0 for _, m in got]
                tags = sorted({m.tag(s) for s, m in got})
                ax.errorbar(xs, ys, yerr=errs, fmt="-s", color=colour, capsize=3,
                            mfc=colour if tags == [""] else "none", label=f"{label} here{''.join(tags)}")  # fmt: skip
        ax.set_xticks(sorted({t for _, m in mine for s in m if (t := _t_of(s)) is not None}))
        ax.set(xlabel="time steps T", ylabel="accuracy %", title=ds)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{paper} {table}: accuracy against T (dashed: paper; solid: measured, mean ± std)", fontsize=10)
    return _save(fig, out / paper / f"{_slug(table)}-accuracy-vs-T.png")


# --------------------------------------------------------------------------- variant bars
def _variant_labels(group: list[Spec]) -> dict[str, str]:
    ids = [s.id for s in group]
    prefix = os.path.commonprefix(ids)
    prefix = prefix[: prefix.rfind("-") + 1] if len(ids) > 1 else ""
    return {s.id: s.id[len(prefix) :] or s.id for s in group}


def variant_bars(key: tuple[str, str], group: list[Spec], records: list[RunRecord], out: Path) -> Path:
    paper, table = key
    datasets = sorted({s.dataset.name for s in group})
    fig = _figure(max(4.5, 1.6 * max(sum(s.dataset.name == d for s in group) for d in datasets)) * len(datasets), 4.2)
    axes = fig.subplots(1, len(datasets), squeeze=False)[0]
    for ax, ds in zip(axes, datasets, strict=True):
        mine = [s for s in group if s.dataset.name == ds]
        labels = _variant_labels(mine)
        xs = range(len(mine))
        reported = [s.reported if s.reported is not None else float("nan") for s in mine]
        ax.bar([x - 0.2 for x in xs], reported, width=0.4, color="0.75", label="paper")
        here_label: str | None = "here"
        for x, s in zip(xs, mine, strict=True):
            m = measured(s, records)
            if m is None:
                ax.text(x + 0.2, 1, "not run", rotation=90, ha="center", va="bottom", fontsize=7)
                continue
            ax.bar(x + 0.2, m.mean, width=0.4, yerr=m.std or 0.0, capsize=3, color="C0",
                   hatch=None if m.tag(s) == "" else "//", alpha=1.0 if m.tag(s) == "" else 0.6,
                   label=here_label)  # fmt: skip
            here_label = None
            ax.text(x + 0.2, m.mean, f"{m.mean:.1f}{m.tag(s)}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(list(xs), [labels[s.id] for s in mine], fontsize=8)
        ax.set(ylabel="accuracy %", title=ds, ylim=(0, 105))  # bars start at zero
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{paper} {table}: paper (grey) vs measured (blue; hatched: another budget/data)", fontsize=10)
    return _save(fig, out / paper / f"{_slug(table)}-bars.png")


# --------------------------------------------------------------------------- reported vs measured
def scatter(specs: list[Spec], records: list[RunRecord], path: Path, title: str) -> Path | None:
    """Reported (x) against measured (y) for every row with both; None when no row has results."""
    points = [(s, m) for s in specs if s.reported is not None and (m := measured(s, records)) is not None]
    if not points:
        return None
    fig = _figure(6.5, 6)
    ax = fig.subplots()
    seen: set[str] = set()
    for s, m in points:
        colour = PAPER_COLOURS.get(s.paper, "C7")
        full = m.tag(s) == ""
        ax.errorbar(s.reported, m.mean, yerr=m.std or 0.0, fmt="o", color=colour, mfc=colour if full else "none",
                    capsize=2, label=s.paper if s.paper not in seen else None)  # fmt: skip
        seen.add(s.paper)
        ax.annotate(s.id + m.tag(s), (s.reported, m.mean), fontsize=6, xytext=(3, 3), textcoords="offset points")
    lo = min(min(s.reported, m.mean) for s, m in points) - 2  # type: ignore[type-var]
    hi = max(max(s.reported, m.mean) for s, m in points) + 2  # type: ignore[type-var]
    ax.plot([lo, hi], [lo, hi], "k:", linewidth=1)
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="reported by the paper %", ylabel="measured here % (mean ± std)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="filled: paper's budget\nhollow: quick/smoke/custom", title_fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


# --------------------------------------------------------------------------- entry points
def plots_dir(results: Path) -> Path:
    return results / "plots"


def plot(specs: list[Spec], target: str, results: Path) -> list[Path]:
    """Every plot for ``target``: a spec id (its curves), a paper (its curves, sweeps, bars, scatter) or ``all``.

    ``specs`` are the full-profile specs of every paper.  With ``all`` the plots folder is made to hold
    exactly what was written (older PNGs of rows without records any more are removed).
    """
    records = iter_records(results)
    out = plots_dir(results)
    ids = {s.id for s in specs}
    if target in ids:
        spec = next(s for s in specs if s.id == target)
        written = training_curves(spec, records, out)
        if not written:
            raise ValueError(f"{target}: no run record with a training history under {results / 'runs'}")
        return written
    papers = sorted({s.paper for s in specs}) if target == "all" else [target]
    if target != "all" and target not in {s.paper for s in specs}:
        raise ValueError(f"no spec has paper or id {target!r}; `snnrepro list` shows them")
    written: list[Path] = []
    for paper in papers:
        group = [s for s in specs if s.paper == paper]
        for spec in group:
            written += training_curves(spec, records, out)
        for key, series in t_sweeps(group).items():
            written.append(accuracy_vs_t(key, series, records, out))
        tables: dict[tuple[str, str], list[Spec]] = defaultdict(list)
        for s in group:
            tables[(s.paper, s.table)].append(s)
        for key in sorted(BAR_TABLES & set(tables)):
            written.append(variant_bars(key, tables[key], records, out))
        p = scatter(group, records, out / paper / "reported-vs-measured.png", f"{paper}: reported vs measured")
        written += [p] if p else []
    if target == "all":
        p = scatter(specs, records, out / "reported-vs-measured.png", "all papers: reported vs measured")
        written += [p] if p else []
        keep = {w.resolve() for w in written}
        for old in out.rglob("*.png"):
            if old.resolve() not in keep:
                old.unlink()
    return written


def readme_links(results: Path, paper: str | None, base: Path) -> str:
    """Markdown links to the PNGs of ``paper`` (or, with None, the all-papers scatter), relative to ``base``."""
    out = plots_dir(results)

    def link(path: Path, text: str) -> str:
        return f"[{text}]({Path(os.path.relpath(path, base)).as_posix()})"

    if paper is None:
        top = out / "reported-vs-measured.png"
        return f"Reported vs measured, every row with results: {link(top, 'plot')}.\n" if top.exists() else ""
    folder = out / paper
    if not folder.is_dir():
        return ""
    figures = [link(p, p.stem.replace("-", " ")) for p in sorted(folder.glob("*.png"))]
    curves = [link(p, p.stem) for p in sorted((folder / "curves").glob("*.png"))]
    lines = []
    if figures:
        lines.append(f"Plots ({paper}): " + " · ".join(figures) + ".")
    if curves:
        lines.append("Training curves (seeds overlaid): " + " · ".join(curves) + ".")
    return "\n\n".join(lines) + "\n" if lines else ""
