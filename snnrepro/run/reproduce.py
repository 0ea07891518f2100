"""``snnrepro reproduce``: every matching spec run (finished ones skipped), here or through an executor,
then every CSV and table under ``results/`` (and a README's results section) rebuilt from the records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from snnrepro.results.record import RunRecord, results_root
from snnrepro.run.plan import all_specs
from snnrepro.run.report import Reporter
from snnrepro.spec import Spec


@dataclass(frozen=True)
class Request:
    """What to reproduce and where: the specs at a profile, seeds, device, folders, ``force`` (re-run finished
    ones), the executor: ``inline`` (this process), ``local`` (``jobs`` child processes) or ``slurm``, and
    ``keep_checkpoints``: what stays of a finished run's checkpoints (``all`` | ``last`` | ``none``)."""

    specs: list[Spec]
    profile: str
    seeds: int | None = None
    device: str = "auto"
    data_root: Path | None = None
    results: Path | None = None
    force: bool = False
    executor: str = "inline"
    jobs: int | None = None
    cluster: str | None = None
    partition: str | None = None
    timeout_min: int = 240
    keep_checkpoints: str = "last"


@dataclass
class Reproduced:
    """What the runs left: each inline (spec, seed)'s record, one line per failed dispatched job."""

    records: list[RunRecord] = field(default_factory=list)
    failed_jobs: list[str] = field(default_factory=list)


def chosen_specs(all_: bool, paper: str | None, profile: str, deep: bool = False) -> tuple[list[Spec], list[str]]:
    """The specs of ``--all`` or ``--paper P`` at ``profile``, and one line per spec that does not load
    (``deep``: or that the engine would refuse to build, so it is listed instead of failing mid-batch)."""
    if not all_ and not paper:
        raise ValueError("say --all or --paper P")
    specs, errors = all_specs(profile, deep=deep)
    return [s for s in specs if all_ or s.paper == paper], errors


def run_chosen(req: Request, reporter: Reporter) -> Reproduced:
    """Run every (spec, seed) of the request not finished already (all of them with ``force``)."""
    if req.executor == "inline":
        from snnrepro.run.serial import run_specs

        recs = run_specs([s.id for s in req.specs], req.profile, req.seeds, None, req.device, [], req.data_root,
                         False, None, req.results, reporter, skip_done=not req.force,
                         keep_checkpoints=req.keep_checkpoints)  # fmt: skip
        return Reproduced(records=recs)
    return Reproduced(failed_jobs=_dispatch(req, reporter))


def _dispatch(req: Request, reporter: Reporter) -> list[str]:
    """Run (spec, seed) jobs through the local or SLURM executor; return lines for the failed ones."""
    from snnrepro.run.executors import execute
    from snnrepro.run.plan import check_writable, plan_jobs
    from snnrepro.run.skip import split_finished

    root = results_root(req.results)
    check_writable(root)
    jobs = plan_jobs(req.specs, req.profile, req.seeds, root, req.data_root, req.device, req.keep_checkpoints)
    todo, complete = split_finished(jobs, req.specs, req.force)
    reporter.planned(todo, complete, req.executor)
    outcomes = execute(todo, req.executor, root, req.jobs, req.cluster, req.partition, req.timeout_min)
    for o in outcomes:
        reporter.outcome(o)
    return [f"{o.job.name}: {o.status}; log {o.log}" for o in outcomes if o.status != "ok"]


def rebuild_tables(results: Path | None, data_root: Path | None, readme: Path | None = None) -> Iterator[Path]:
    """Rebuild every CSV and table from the records (yielding each file written), then, with ``readme``, its
    results section (yielding ``readme``)."""
    from snnrepro.data.loading import data_root as resolve_data_root
    from snnrepro.results.tables import rebuild_all, update_readme

    every_spec, _ = all_specs()
    root, droot = results_root(results), resolve_data_root(data_root)
    yield from rebuild_all(every_spec, root, droot)
    if readme is not None:
        update_readme(readme, every_spec, root, droot)
        yield readme
