"""What a run tells its user: long-run notes, progress, a JSON line per run, failures, the summary (and,
for ``reproduce`` through an executor, the jobs planned and how each ended).

:class:`Reporter` writes to a rich console on stderr (plain text when that is not a terminal, e.g. a
worker's log); the CLI passes its own console and its progress sinks (rich bars on a terminal).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from snnrepro.engine.fit import ProgressSink
from snnrepro.results.record import RunRecord
from snnrepro.run.plan import Job, Outcome
from snnrepro.spec import Spec
from snnrepro.textout import Col, print_rows

#: the run summary at any width: id and status are never cut; device, wall time, data and epochs go first
SUMMARY_COLUMNS = [
    Col("id", "id", wrap="none"),
    Col("profile", "profile", wrap="none", drop=6),
    Col("seed", "seed", wrap="none", justify="right"),
    Col("status", "status", wrap="none", style=lambda s: {"ok": "green", "interrupted": "yellow"}.get(s, "red")),
    Col("final %", "final", wrap="none", justify="right"),
    Col("best % (epoch)", "best", justify="right", drop=5),
    Col("epochs", "epochs", wrap="none", justify="right", drop=4),
    Col("wall s", "wall_s", wrap="none", justify="right", drop=2),
    Col("device", "device", drop=1),
    Col("data", "data", drop=3),
]

SinkFactory = Callable[[str, Spec, int], ProgressSink]


def plain_sink(label: str, spec: Spec, seed: int) -> ProgressSink:
    """One plain line per epoch on stderr (logs, pipes)."""
    from snnrepro.progress import PlainProgress

    return PlainProgress(label)


class Reporter:
    """The voice of :func:`snnrepro.run.serial.run_specs`; ``as_json`` adds one JSON line per run on stdout."""

    def __init__(self, console: Console | None = None, as_json: bool = False, sink: SinkFactory | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.as_json = as_json
        self.make_sink = sink or plain_sink

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{escape(text)}[/]", highlight=False)

    def sink(self, label: str, spec: Spec, seed: int) -> ProgressSink:
        return self.make_sink(label, spec, seed)

    def finished(self, record: RunRecord) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(record.summary()) + "\n")
            sys.stdout.flush()

    def failed(self, message: str) -> None:
        self.console.print(f"[bold red]failed:[/] {escape(message)}", highlight=False, soft_wrap=True)

    def interrupted(self) -> None:
        self.console.print("[yellow]interrupted[/]: records and checkpoints written so far are kept; use --resume")

    def planned(self, todo: list[Job], complete: list[Job], executor: str) -> None:
        """What ``reproduce`` hands to a local or SLURM executor."""
        done = len(complete)
        self.console.print(f"{len(todo)} job(s) to run, {done} already complete (skipped); executor {executor}")

    def outcome(self, o: Outcome) -> None:
        """How one dispatched job ended, and its log."""
        colour = "green" if o.status == "ok" else "red"
        self.console.print(f"[{colour}]{o.status}[/] {o.job.name}  log: {o.log}", highlight=False)

    def summary(self, records: list[RunRecord]) -> None:
        rows = [
            {
                "id": r.id, "profile": r.profile, "seed": str(r.seed), "status": r.status,
                "final": "–" if r.test_acc is None else f"{100 * r.test_acc:.2f}",
                "best": "–" if r.best_test_acc is None else f"{100 * r.best_test_acc:.2f} ({r.best_epoch})",
                "epochs": f"{r.epochs}/{r.epochs_planned}", "wall_s": f"{r.wall_s:.1f}", "device": r.device,
                "data": r.data_source,
            }
            for r in records
        ]  # fmt: skip
        print_rows(SUMMARY_COLUMNS, rows, title="run summary", console=self.console)
