"""``snnrepro``: list, show, run, table, reproduce, data check, bench."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import Enum
from functools import wraps
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from snnrepro.choices import KEEP_HELP, CompareArch, Device, Executor, KeepCheckpoints, Profile, plain
from snnrepro.results.record import RunBusy, iter_records, record_path, results_root
from snnrepro.run.plan import all_specs
from snnrepro.spec import Spec, SpecError, load_spec, parse_set, spec_files, spec_parents
from snnrepro.textout import Col, OutputFormat, format_rows, print_rows

app = typer.Typer(add_completion=True, no_args_is_help=True, help=__doc__)
data_app = typer.Typer(no_args_is_help=True, help="Datasets: which are present, missing or downloadable.")
app.add_typer(data_app, name="data")
err = Console(stderr=True)
USER_ERRORS: tuple[type[BaseException], ...] = (
    SpecError, FileNotFoundError, KeyError, ValueError, RunBusy,
    PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError,  # e.g. --out where nothing can be written
)  # fmt: skip


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected user mistakes into one red line and exit code 2 (no traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from snnrepro.engine.checkpoint import CheckpointError
        from snnrepro.models.arch import ArchError

        try:
            return fn(*args, **kwargs)
        except (*USER_ERRORS, ArchError, CheckpointError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            if isinstance(exc, OSError) and exc.filename and exc.strerror:  # e.g. --out into a read-only folder
                msg = f"{exc.filename}: {exc.strerror}"
            from snnrepro.data.base import DatasetMissing

            if isinstance(exc, DatasetMissing):  # say where datasets are looked for, and how to point elsewhere
                msg += "\n(datasets are read from --data-root DIR, else $SNNREPRO_DATA, else ./data)"
            err.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:
            import errno

            if exc.errno != errno.ENOSPC:
                raise
            from snnrepro.engine.lifecycle import describe_error

            err.print(f"[bold red]error:[/] {escape(describe_error(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _complete_ids(incomplete: str) -> list[str]:
    """Shell completion: spec ids starting with what was typed."""
    return sorted(sid for sid in spec_files() if sid.startswith(incomplete))


def _complete_keys(incomplete: str) -> list[str]:
    """Shell completion for ``table``/``plot``: papers and spec ids (dataset names also work when typed)."""
    papers = {path.parent.name for path in spec_files().values()}
    return sorted(k for k in papers | set(spec_files()) if k.startswith(incomplete))


# --------------------------------------------------------------------------- list / show
#: ``list`` at any width: the id is never cut; the row text folds, then the row and dataset columns go
LIST_COLUMNS = [
    Col("paper", "paper", wrap="none"),
    Col("dataset", "dataset", wrap="none", drop=2),
    Col("id", "id", wrap="none"),
    Col("table / row", "table_row", wrap="fold", drop=1),
    Col("reported %", "reported_text", wrap="none", justify="right"),
    Col("results", "results_text"),
    Col("full-budget cost", "cost", drop=4),
    Col("blocked by", "blocker", wrap="fold", drop=3),
]


@app.command("list")
@user_errors
def list_cmd(
    paper: str | None = typer.Option(None, help="only this paper (rsn, stdbp, brp, bpsta, iir)"),
    dataset: str | None = typer.Option(None, help="only this dataset"),
    results: Path | None = typer.Option(None, help="results folder (default ./results or $SNNREPRO_RESULTS)"),
    format_: OutputFormat = typer.Option(
        OutputFormat.table, "--format", help="table (fits the terminal; ids are never cut) | json | tsv (all columns)"
    ),
    fits_cpu: bool = typer.Option(
        False, "--fits-cpu", help="only rows whose data is here and whose full budget fits this CPU (6 h per seed)"
    ),
    data_root: Path | None = typer.Option(None, help="dataset folder for the blocker column (default $SNNREPRO_DATA)"),
    build: bool = typer.Option(False, "--build", help="also build every spec's pieces on the meta device (no data)"),
) -> None:
    """Every spec, grouped by paper and dataset, with its reported number, results, full-budget cost and blocker."""
    from snnrepro.results.cost import CostContext
    from snnrepro.results.listing import LIST_KEYS, experiment_rows

    specs, errors = all_specs(deep=build)
    records = iter_records(results_root(results))
    costs = CostContext.here(results, data_root)
    rows = experiment_rows(specs, records, costs, paper=paper, dataset=dataset, fits_cpu=fits_cpu)
    if format_ is OutputFormat.table:
        print_rows(LIST_COLUMNS, rows, title="snnrepro experiments")
    else:
        sys.stdout.write(format_rows(rows, LIST_KEYS, format_))
    for e in errors:
        err.print(f"[red]invalid spec[/] {escape(e)}", highlight=False, soft_wrap=True)
    if errors:
        raise typer.Exit(2)


@app.command()
@user_errors
def show(
    spec_id: str = typer.Argument(..., metavar="ID|FILE.yaml", autocompletion=_complete_ids),
    profile: Profile = typer.Option(Profile.full, help="full | quick | smoke"),
    set_: list[str] = typer.Option([], "--set", help="override any key: key.sub=value"),
    build: bool = typer.Option(False, "--build", help="also build its pieces on the meta device (no data)"),
) -> None:
    """The resolved spec (after extends, profile and overrides) and the paper row it reproduces.

    The paper row (and the files the spec extends) go to stderr, the resolved spec as YAML to stdout
    (``show ID > spec.yaml`` gives a runnable file, ``extends:`` merged in).  ``--build`` checks it as
    completely as a run would before training (shapes, model size, every factory's params).
    """
    spec = load_spec(spec_id, profile=plain(profile), overrides=parse_set(set_), deep=build)
    err.print(
        f"[bold]{spec.id}[/]  ({spec.paper}, {spec.table}: {spec.row})  reported: "
        f"{'–' if spec.reported is None else spec.reported} % ({spec.metric}, tolerance {spec.tolerance})"
        f"\nprofile: {spec.profile}   spec hash: {spec.hash()}   file: {spec.source}"
        + "".join(f"\n  extends {p}" for p in spec_parents(Path(spec.source))),
        highlight=False,
    )
    d = spec.to_dict()
    d.pop("profile")
    sys.stdout.write(yaml.safe_dump(d, sort_keys=False))


@app.command()
def schema() -> None:
    """The JSON Schema of spec files (for editors; experiments/spec.schema.json is this output)."""
    from snnrepro.spec.schema import spec_schema

    sys.stdout.write(json.dumps(spec_schema(), indent=2) + "\n")


# --------------------------------------------------------------------------- run
class RichProgress:
    """Epoch/batch bar with loss, accuracy, samples/s and ETA on stderr."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.progress: Progress | None = None

    def start(self, total_epochs: int, batches_per_epoch: int, start_epoch: int) -> None:
        self.epochs = total_epochs
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )
        self.progress.start()
        self.epoch_task = self.progress.add_task(
            f"{self.label} epochs", total=total_epochs, completed=start_epoch, stats=""
        )
        self.batch_task = self.progress.add_task("  batches", total=batches_per_epoch, stats="")

    def batch(self, epoch: int, done: int, loss: float, acc: float, samples_per_s: float) -> None:
        if self.progress:
            self.progress.update(
                self.batch_task,
                completed=done,
                description=f"  epoch {epoch + 1}/{self.epochs}",
                stats=f"loss {loss:.4f} acc {100 * acc:.2f}% {samples_per_s:.0f} samples/s",
            )

    def epoch(self, epoch: int, row: dict[str, Any]) -> None:
        if self.progress:
            self.progress.update(
                self.epoch_task,
                completed=epoch + 1,
                stats=f"test acc {100 * row['test_acc']:.2f}% loss {row['test_loss']:.4f}",
            )
            self.progress.reset(self.batch_task)

    def stop(self) -> None:
        if self.progress:
            self.progress.stop()


def _progress_sink(label: str, spec: Spec, seed: int, tensorboard: Path | None, log_every: int | None) -> Any:
    """Rich bars on a terminal, plain per-epoch lines otherwise (nohup, CI, SLURM logs, pipes); + TensorBoard."""
    from snnrepro.progress import PlainProgress, TeeProgress, TensorBoardSink

    sink: Any = RichProgress(label) if err.is_terminal else PlainProgress(label, log_every=log_every)
    if tensorboard is not None:
        sink = TeeProgress(sink, TensorBoardSink(tensorboard / spec.id / spec.profile / f"seed-{seed}"))
    return sink


def _reporter(as_json: bool, tensorboard: Path | None = None, log_every: int | None = None) -> Any:
    """A :class:`snnrepro.run.report.Reporter` with this terminal's progress bars and messages."""
    from snnrepro.progress import tensorboard_writer_class
    from snnrepro.run.report import Reporter

    if tensorboard is not None:
        tensorboard_writer_class()  # a missing package fails before anything runs
    return Reporter(err, as_json, lambda label, spec, s: _progress_sink(label, spec, s, tensorboard, log_every))


@app.command()
@user_errors
def run(
    specs: list[str] = typer.Argument(..., metavar="ID|FILE.yaml ...", autocompletion=_complete_ids),
    profile: Profile = typer.Option(
        Profile.full, help="full (paper budget) | quick (minutes on CPU) | smoke (seconds)"
    ),
    seeds: int | None = typer.Option(None, min=1, max=1000, help="number of seeds 0..N-1 (default: the spec's)"),
    seed: int | None = typer.Option(None, min=0, max=2**32 - 1, help="run this one seed only"),
    device: Device = typer.Option(Device.auto, help="auto: the first GPU when present, else the CPU"),
    set_: list[str] = typer.Option([], "--set", help="override any key: key.sub=value (validated)"),
    data_root: Path | None = typer.Option(
        None, file_okay=False, help="dataset folder (default $SNNREPRO_DATA or ./data)"
    ),
    resume: bool = typer.Option(False, help="continue from the last checkpoint of each (id, seed)"),
    epochs: int | None = typer.Option(None, min=1, max=100_000, help="override train.epochs"),
    results: Path | None = typer.Option(
        None, file_okay=False, help="results folder (default ./results or $SNNREPRO_RESULTS)"
    ),
    json_: bool = typer.Option(False, "--json", help="print one JSON object per finished (id, seed) on stdout"),
    tensorboard: Path | None = typer.Option(
        None, help="also write per-epoch scalars for TensorBoard under DIR/<id>/<profile>/seed-<n> (optional package)"
    ),
    log_every: int | None = typer.Option(
        None, help="without a terminal: a progress line every N batches (default: ~10 per epoch on long epochs)"
    ),
    keep_checkpoints: KeepCheckpoints = typer.Option(KeepCheckpoints.last, help=KEEP_HELP),
) -> None:
    """Train and evaluate specs; write run records under results/runs/.

    On a terminal, progress bars; otherwise (nohup, CI, SLURM logs) one plain line per epoch with loss,
    accuracy, samples/s and ETA.  The record and ``seed-<n>/metrics.csv`` hold the history after every epoch.
    """
    from snnrepro.run.serial import run_specs

    reporter = _reporter(json_, tensorboard, log_every)
    recs = run_specs(
        specs, plain(profile), seeds, seed, plain(device), set_, data_root, resume, epochs, results, reporter,
        keep_checkpoints=plain(keep_checkpoints),
    )  # fmt: skip
    if any(r.status != "ok" for r in recs):
        raise typer.Exit(1)


# --------------------------------------------------------------------------- cost
@app.command()
@user_errors
def cost(
    refs: list[str] = typer.Argument(None, metavar="[ID|PAPER ...]", help="default: every spec"),
    measure: bool = typer.Option(False, "--measure", help="time training steps now and store them"),
    steps: int = typer.Option(2, min=1, help="timed steps per spec (after one untimed step)"),
    device: Device = typer.Option(Device.cpu, help="cpu | cuda | cuda:N"),
    data_root: Path | None = typer.Option(None, help="dataset folder (default $SNNREPRO_DATA or ./data)"),
    results: Path | None = typer.Option(None, help="results folder"),
    skip_measured: bool = typer.Option(True, help="with --measure: skip specs already measured at this hash"),
) -> None:
    """Full-budget cost of each row (CPU/GPU hours per seed) and what blocks it here.

    With --measure, first times a few training steps of each spec at its batch size on DEVICE (real data
    when present, else the stand-in of the same shape) into results/cost/<device>.json.
    """
    from snnrepro.results.cost import CostContext, cost_rows, pick_specs

    specs = pick_specs(all_specs()[0], refs)
    root = results_root(results)
    if measure:
        from snnrepro.data.loading import data_root as resolve_data_root
        from snnrepro.engine.device import pick_device
        from snnrepro.engine.measure import measure_specs

        dev = pick_device(plain(device))
        for s, m, exc in measure_specs(specs, dev, resolve_data_root(data_root), steps, root, skip_measured):
            if m is None:
                err.print(f"[red]{s.id}[/]: not measured ({type(exc).__name__}: {escape(str(exc))[:200]})")
            else:
                err.print(f"{s.id}: {m['step_s']:.3f} s per step of {m['batch_size']} ({m['data']} data)")
    rows = cost_rows(specs, iter_records(root), CostContext.here(results, data_root))
    out = Table("id", "paper", "full-budget cost (h per seed x seeds)", "blocked by", box=None)
    for r in rows:
        out.add_row(str(r["id"]), str(r["paper"]), str(r["cost"]), str(r["blocker"]) or "–")
    Console(soft_wrap=not sys.stdout.isatty()).print(out)


# --------------------------------------------------------------------------- tables
class TableFormat(str, Enum):
    md = "md"
    csv = "csv"
    json = "json"
    tsv = "tsv"
    table = "table"


#: ``table --format table``: the comparison at the terminal's width (id, reported and here are never cut)
TABLE_COLUMNS = [
    Col("id", "id", wrap="none"),
    Col("dataset", "dataset", wrap="none", drop=3),
    Col("reported %", "reported", wrap="none", justify="right"),
    Col("here %", "here", wrap="none", justify="right"),
    Col("Δ", "delta", wrap="none", justify="right", drop=4),
    Col("profile", "profile", wrap="none", drop=2),
    Col("status", "status", wrap="fold"),
    Col("row", "row", wrap="fold", drop=1),
]


def _table_row(r: dict[str, Any]) -> dict[str, Any]:
    def pct(v: Any) -> str:
        return "–" if v is None else f"{v:.2f}"

    here = "–" if r.get("mean") is None else pct(r["mean"]) + ("" if r.get("std") is None else f" ± {r['std']:.2f}")
    return {**r, "reported": pct(r.get("reported")), "here": here, "delta": pct(r.get("delta")),
            "profile": r.get("profile") or "–"}  # fmt: skip


@app.command()
@user_errors
def table(
    keys: list[str] = typer.Argument(..., metavar="DATASET|PAPER|ID ...", autocompletion=_complete_keys),
    format_: TableFormat = typer.Option(
        TableFormat.md, "--format", help="md | csv | json | tsv (rounded numbers) | table (fits the terminal)"
    ),
    out: Path | None = typer.Option(None, help="write to this file instead of stdout"),
    results: Path | None = typer.Option(None, help="results folder"),
    energy: bool = typer.Option(False, "--energy", help="energy table (firing rates, E_ANN/E_SNN) instead"),
    analysis: str | None = typer.Option(
        None, "--analysis", metavar="NAME", help="the table this analysis declares instead (--energy: energy)"
    ),
    min_seeds: int | None = typer.Option(
        None, "--min-seeds", min=1, help="finished seeds a verdict needs (default: the spec's train.seeds)"
    ),
    data_root: Path | None = typer.Option(None, help="dataset folder for the blocker column (default $SNNREPRO_DATA)"),
) -> None:
    """Paper's reported value vs this toolkit's mean ± std over seeds, Δ and status (or, with --energy, Table 5).

    Several keys give one table of their union (e.g. ``table mnist-rsn-mlp mnist-stdbp-mlp400``).
    """
    from snnrepro.registry import TABLES
    from snnrepro.results.cost import CostContext
    from snnrepro.results.tables import (
        choose_specs,
        comparison_frame,
        contribution_frame,
        contribution_markdown,
        csv_text,
        markdown_tables,
        rounded_rows,
    )

    flag = "--energy" if energy else f"--analysis {analysis}"
    contribution = TABLES.get("energy" if energy else analysis) if energy or analysis else None
    specs, _ = all_specs()
    chosen = choose_specs(specs, keys)
    key = " ".join(keys)
    records = iter_records(results_root(results))
    if format_ is TableFormat.md:
        if contribution is not None:
            text = contribution_markdown(contribution, chosen, records, key)
        else:
            costs = CostContext.here(results, data_root)
            text = markdown_tables(chosen, records, f"{key}: paper vs snnrepro", all_specs=specs, min_seeds=min_seeds,
                                   costs=costs)  # fmt: skip
    else:
        if contribution is not None:
            if format_ is TableFormat.table:
                raise ValueError(f"--format table is for the comparison table; with {flag} use md, csv, json or tsv")
            frame = contribution_frame(contribution, chosen, records)
        else:
            costs = CostContext.here(results, data_root)
            frame = comparison_frame(chosen, records, all_specs=specs, min_seeds=min_seeds, costs=costs)
        if format_ is TableFormat.table:
            console = Console(file=out.open("w", encoding="utf-8"), width=200) if out else Console()
            print_rows(TABLE_COLUMNS, [_table_row(r) for r in rounded_rows(frame)], title=key, console=console)
            if out:
                console.file.close()
                err.print(f"wrote {out}")
            return
        if format_ is TableFormat.json:
            text = json.dumps(rounded_rows(frame), indent=1, default=str) + "\n"
        else:
            text = csv_text(frame, sep="\t" if format_ is TableFormat.tsv else ",")
    if out:
        from snnrepro.io import atomic_write_bytes

        atomic_write_bytes(out, text.encode())
        err.print(f"wrote {out}")
    else:
        sys.stdout.write(text)


@app.command()
@user_errors
def reproduce(
    all_: bool = typer.Option(False, "--all", help="every spec"),
    paper: str | None = typer.Option(None, help="only this paper"),
    profile: Profile = typer.Option(
        Profile.full,
        help="full (paper budget, as `run`) | quick (minutes on CPU) | smoke (seconds); long runs are announced",
    ),
    device: Device = typer.Option(Device.auto),
    data_root: Path | None = typer.Option(None, file_okay=False),
    results: Path | None = typer.Option(None, file_okay=False),
    seeds: int | None = typer.Option(None, min=1, max=1000),
    force: bool = typer.Option(False, help="re-run (id, seed) pairs that already finished ok"),
    json_: bool = typer.Option(False, "--json"),
    no_run: bool = typer.Option(False, "--no-run", help="only rebuild the CSVs and tables from existing records"),
    readme: Path | None = typer.Option(None, help="also regenerate this README's results section"),
    executor: Executor = typer.Option(Executor.inline, help="inline (this process) | local (child processes) | slurm"),
    jobs: int | None = typer.Option(None, min=1, help="local executor: parallel processes (default: one per GPU)"),
    cluster: str | None = typer.Option(None, help="slurm executor: submitit cluster (slurm, or local for tests)"),
    partition: str | None = typer.Option(None, help="slurm executor: partition"),
    timeout_min: int = typer.Option(240, min=1, help="slurm executor: time limit per job (requeued on timeout)"),
    keep_checkpoints: KeepCheckpoints = typer.Option(KeepCheckpoints.last, help=KEEP_HELP),
) -> None:
    """Run every matching spec (skipping finished ones) and rebuild every table under results/."""
    from snnrepro.run.reproduce import Reproduced, Request, chosen_specs, rebuild_tables, run_chosen

    # deep: a spec the engine would refuse is listed, not run
    chosen, errors = chosen_specs(all_, paper, plain(profile), deep=not no_run)
    for e in errors:
        err.print(f"[red]invalid spec[/] {escape(e)}", highlight=False, soft_wrap=True)
    done = Reproduced()
    if not no_run:
        req = Request(chosen, plain(profile), seeds, plain(device), data_root, results, force, plain(executor), jobs,
                      cluster, partition, timeout_min, plain(keep_checkpoints))  # fmt: skip
        done = run_chosen(req, _reporter(json_))
    for path in rebuild_tables(results, data_root, readme):
        err.print(f"updated the results section of {readme}" if path == readme else f"wrote {path}")
    failed = [r for r in done.records if r.status != "ok"]
    for r in failed:
        err.print(
            f"[red]{r.status}[/] {r.id} seed {r.seed}: {escape(r.error)} "
            f"({record_path(results_root(results), r.id, r.profile, r.seed)})",
            highlight=False,
        )
    for line in done.failed_jobs:
        err.print(f"[red]failed[/] {escape(line)}", highlight=False, soft_wrap=True)
    if errors or failed or done.failed_jobs:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- plot
@app.command()
@user_errors
def plot(
    target: str = typer.Argument("all", metavar="ID|PAPER|all", autocompletion=_complete_keys),
    results: Path | None = typer.Option(None, help="results folder (plots go to <results>/plots/)"),
) -> None:
    """PNG plots from the run records: training curves (seeds overlaid), accuracy against T, ablation /
    target-variant bars next to the paper, reported vs measured.  ``make tables`` regenerates all of them."""
    from snnrepro.results.plots import plot as make_plots

    specs, _ = all_specs()
    for path in make_plots(specs, target, results_root(results)):
        err.print(f"wrote {path}", highlight=False)


# --------------------------------------------------------------------------- compare
@app.command()
@user_errors
def compare(
    dataset: str = typer.Option(..., help="any dataset the toolkit loads: mnist, fsdd, nmnist, digits, ..."),
    epochs: int = typer.Option(..., min=1, max=100_000, help="epochs for every family"),
    families: list[str] = typer.Option(
        ["stdbp", "rsn", "bpsta", "brp", "iir"], "--family", help="repeat to choose (default: all five)"
    ),
    seeds: int = typer.Option(1, min=1, max=100),
    arch: CompareArch = typer.Option(
        CompareArch.mlp, help="mlp: one HIDDEN-CLASSES MLP for all; paper: each template's own"
    ),
    hidden: int = typer.Option(400, min=1, max=1_000_000, help="hidden width of the common MLP"),
    train_subset: int | None = typer.Option(None, min=1, help="first N training samples (deterministic)"),
    test_subset: int | None = typer.Option(None, min=1, help="first N test samples"),
    batch_size: int | None = typer.Option(None, min=1, help="default: each family's own"),
    device: Device = typer.Option(Device.auto),
    data_root: Path | None = typer.Option(None, file_okay=False),
    results: Path | None = typer.Option(None, file_okay=False, help="results folder (default ./results)"),
    out: Path | None = typer.Option(None, file_okay=False, help="default: <results>/compare/<dataset>-<arch>"),
    force: bool = typer.Option(False, help="re-run (family, seed) pairs that already finished ok"),
    no_run: bool = typer.Option(False, "--no-run", help="only rebuild the table from existing records"),
    note: str = typer.Option("", help="a sentence appended to the table's notes (e.g. how loaded the machine was)"),
) -> None:
    """Train the five learning rules on one dataset under one budget and seeds; one table and one plot.

    Columns: test accuracy (mean ± std), final accuracy, wall time per epoch, spikes, synaptic operations
    (NeuroBench effective ACs/MACs) and decision latency per test sample, peak memory, footprint."""
    from snnrepro.compare import Budget, default_out, incomplete
    from snnrepro.compare import compare as run_compare

    budget = Budget(
        dataset=dataset, epochs=epochs, seeds=seeds, train_subset=train_subset, test_subset=test_subset,
        arch=plain(arch), hidden=hidden, batch_size=batch_size,
    )  # fmt: skip
    folder = out or default_out(results_root(results), budget)
    dev = plain(device)
    rows, table_path = run_compare(
        budget, families, folder, dev, data_root,
        force=force, run=not no_run, log=lambda line: err.print(escape(line), highlight=False, soft_wrap=True),
        note=note,
    )  # fmt: skip
    typer.echo(table_path.read_text())
    if incomplete(rows, seeds):
        raise typer.Exit(1)


# --------------------------------------------------------------------------- data
@data_app.command("check")
@user_errors
def data_check(
    names: list[str] = typer.Argument(None, help="only these datasets (default: every registered one)"),
    data_root: Path | None = typer.Option(None, file_okay=False, help="dataset folder"),
    format_: OutputFormat = typer.Option(
        OutputFormat.table, "--format", help="table (fits the terminal; md5 sums are never split) | json | tsv"
    ),
) -> None:
    """Which datasets are present, missing (exact files and folder) or downloadable."""
    from snnrepro.data.check import CHECK_KEYS, check_rows
    from snnrepro.data.loading import data_root as resolve_root

    root = resolve_root(data_root)
    rows = check_rows(names, root)
    if format_ is OutputFormat.table:
        print_rows(DATA_CHECK_COLUMNS, rows, title=f"datasets under {root}")
    else:
        sys.stdout.write(format_rows(rows, CHECK_KEYS, format_))


def _status_colour(status: str) -> str:
    return {"present": "green", "downloadable": "yellow"}.get(status, "red")


#: ``data check``: a table when it fits without splitting a file name, md5 sum or path, else one block per dataset
DATA_CHECK_COLUMNS = [
    Col("dataset", "dataset", wrap="none"),
    Col("status", "status", wrap="none", style=_status_colour),
    Col("folder", "folder"),
    Col("missing files / note", "detail"),
]


# --------------------------------------------------------------------------- bench
@app.command()
@user_errors
def bench(
    names: list[str] = typer.Argument(None, help="benchmarks to run: lif stdbp rsn iir brp data ... or all (default)"),
    device: Device = typer.Option(Device.auto),
    quick: bool = typer.Option(False, help="fewer repeats (a smoke test of the benchmarks, not a measurement)"),
    out: Path | None = typer.Option(None, help="folder for the report (default <results>/bench)"),
    results: Path | None = typer.Option(None, help="results folder"),
) -> None:
    """ms per training step of each family next to its reference measured in the same run (ratios, peak memory)."""
    from snnrepro.bench import bench_names, report_label, run_bench, write_report
    from snnrepro.engine.device import describe, pick_device

    dev = pick_device(plain(device))
    chosen = bench_names(names)
    rows = []
    for name in chosen:
        err.print(f"running bench {name} on {describe(dev)} ...")
        rows += run_bench(name, dev, quick)
    t = Table(title=f"snnrepro bench on {describe(dev)}")
    for col in ("bench", "name", "ms/step", "reference", "ratio", "peak MB", "note"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r.bench,
            r.name,
            f"{r.ms_per_step:.2f}",
            r.reference or "",
            "" if r.ratio is None else f"{r.ratio:.2f}x",
            "" if r.peak_mem_mb is None else f"{r.peak_mem_mb:.0f}",
            r.note,
        )
    Console().print(t)
    folder = out or results_root(results) / "bench"
    for path in write_report(rows, dev, folder, report_label(chosen), quick):
        err.print(f"wrote {path}")


# --------------------------------------------------------------------------- eval / export
ExportFormat = Enum("ExportFormat", [(f, f) for f in ("safetensors", "nir")], type=str)  # type: ignore[misc]


@app.command("eval")
@user_errors
def eval_cmd(
    run_ref: str = typer.Argument(
        ..., metavar="RUN|CHECKPOINT", help="ID[:profile[:seed]] or a checkpoint .pt path", autocompletion=_complete_ids
    ),
    dataset: str | None = typer.Option(None, help="evaluate on another registered dataset of the same sample shape"),
    dataset_param: list[str] = typer.Option([], "--dataset-param", help="KEY=VALUE parameters of --dataset"),
    data_root: Path | None = typer.Option(None, file_okay=False, help="dataset folder (default $SNNREPRO_DATA)"),
    device: Device = typer.Option(Device.auto, help="auto: the first GPU when present, else the CPU"),
    results: Path | None = typer.Option(None, file_okay=False, help="results folder holding the run"),
    json_: bool = typer.Option(False, "--json", help="print the result as one JSON object on stdout"),
) -> None:
    """Evaluate a trained run's checkpoint on the test split (model rebuilt from the spec in its record)."""
    from snnrepro.data.loading import data_root as resolve_root
    from snnrepro.engine.device import pick_device
    from snnrepro.engine.evaluate_run import evaluate_run, parse_dataset_params

    params = parse_dataset_params(dataset_param)
    out = evaluate_run(run_ref, results_root(results), resolve_root(data_root), pick_device(plain(device)),
                       dataset, params)  # fmt: skip
    for w in out["warnings"]:
        err.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    if json_:
        sys.stdout.write(json.dumps(out) + "\n")
        return
    rec = "" if out["record_test_acc"] is None else f"   (record: {100 * out['record_test_acc']:.2f} %)"
    sys.stdout.write(
        f"{out['id']} {out['profile']} seed {out['seed']} epoch {out['epoch']} on {out['dataset']} "
        f"({out['samples']} samples): accuracy {100 * out['test_acc']:.2f} %  loss {out['test_loss']:.4f}{rec}\n"
    )


@app.command("export")
@user_errors
def export_cmd(
    run_ref: str = typer.Argument(
        ..., metavar="RUN|CHECKPOINT", help="ID[:profile[:seed]] or a checkpoint .pt path", autocompletion=_complete_ids
    ),
    format_: ExportFormat = typer.Option(..., "--format", help="safetensors (weights) | nir (graph, lif/iir only)"),
    out: Path | None = typer.Option(None, dir_okay=False, help="file to write (default <run>/export/seed-<n>.*)"),
    results: Path | None = typer.Option(None, file_okay=False, help="results folder holding the run"),
) -> None:
    """Write a trained run's weights (safetensors, spec and provenance in the metadata) or its NIR graph."""
    from snnrepro.export import export_run

    info = export_run(run_ref, plain(format_), out, results_root(results))
    for w in info["warnings"]:
        err.print(f"[yellow]note:[/] {escape(w)}", highlight=False)
    nodes = f" ({' -> '.join(info['nodes'])})" if "nodes" in info else ""
    err.print(f"wrote {info['path']}{nodes}", highlight=False)


@app.callback()
def _startup() -> None:
    """Reproduce the experiment tables of five deep-SNN training papers from one command line."""
    from snnrepro.engine.allocator import tune_glibc_malloc

    tune_glibc_malloc()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
