"""Provenance marks for run records: dirty tree, family code changed since, mixed commits.

A record stores the commit it ran on (``git_commit``, ``+dirty`` when the tree had uncommitted
changes).  A table marks a row whose records

* were made on a dirty tree (the code that ran is not in any commit),
* ran on a commit after which the code of the row's neuron family, model or learning rule changed
  (``git diff <commit> HEAD -- <family files>``; a change made only by commits listed in
  :data:`RELAYOUTS`, which moved code between files without changing what it computes, is not one), or
* mix commits across seeds (the mean is over different code).

Where git or the commit is not available (an installed wheel, a shallow clone) the mark says so
instead of passing the record as current.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from snnrepro.results.record import RunRecord
from snnrepro.spec import Spec

_PACKAGE = Path(__file__).resolve().parent.parent

#: Commits that only moved family code between files, behaviour unchanged (the same tests and benches
#: passed before and after), with the paths the code had before the move; and commits that changed how a
#: kernel works but not one bit of what it computes, held equal by a named test.  A record made before one of
#: them is not marked "family code changed" for the move alone: any other commit that touched the
#: family's files (at their old or new paths) since the record's commit still marks it.
RELAYOUTS: dict[str, tuple[str, ...]] = {
    "1fb3c756c0cabc7f27d30a45982ec2c8e82b32ac": ("snnrepro/neurons/relpsp.py",),  # git mv to relpsp/kernel.py
    "e2e6b3ce40bddf3c849556b619e61cf0c5d93d41": ("snnrepro/neurons/relpsp.py",),  # kernel.py apart from layers.py
    # the shared architecture planner and one neuron config per family: bit-identical builds, same messages
    "9b6c57aac8c63e7274412cb6c21c0474a4543878": (),
    # issue 16 rooms: PatternMemoryReadout from metrics/van_rossum.py to models/iir_readout.py; models/iir.py and
    # neurons/lif.py changed only an import path and a docstring reference
    "c2bd3b18b30e6dd9082abacf7fd4660b6e6769a7": ("snnrepro/metrics/van_rossum.py",),
    # issue 16: kernels apart from layers for the lif, iir and resonate families (moves and import paths only)
    "eb301e45dc63f7fdcc3361d2eb113092fb6e56c9": ("snnrepro/neurons/lif.py",),  # lif/kernel.py + lif/layers.py
    "4f9dc84bccd3d3cddacdf397e9d55c54b19d529c": ("snnrepro/neurons/iir.py",),  # iir/kernel.py + iir/layers.py
    "c5a67f134199069970e8112ebac501d5af9443bf": ("snnrepro/neurons/resonate.py",),  # git mv to resonate/kernel.py
    "c012927f6ef1df3b188371728c44ee4bd3a344a3": ("snnrepro/neurons/resonate.py",),  # kernel.py apart from layers.py
    # not a move: the numba ReL-PSP kernel sorts sparse long rows inside the kernel instead of before it; the
    # same stable order, so bitwise the same times and gradients
    # (tests/test_relpsp_numba.py::test_row_sort_of_long_rows_equals_the_batch_sort)
    "69a6a36729d20af858efe35690bcce29e7f945a6": (),
    # not a move: _sort_row's two long-row branches share one permutation tail; the same permutation
    # (tests/test_relpsp_numba.py::test_row_sort_of_long_rows_equals_the_batch_sort)
    "4a2ad06bca9030c3ad5e8846afe045eebbcbdd36": (),
    # not a move: one-thread calls run serially compiled twins of the same kernel source, bitwise the same
    # (tests/test_relpsp_numba.py::test_one_thread_calls_run_the_serial_twins_bitwise_equal)
    "04e9468b4ce9654b7cf5a10af4173054ef705735": (),
    # not a move: one module constant (SERIAL_AT_ONE_THREAD) moved up beside the other kernel settings
    "f5f5810159b94b0db1d44364edfa0ab13d6b63e7": (),
    # not a move: the Triton LIF kernel's reset update written once (`_reset`), the same arithmetic; a GPU-only
    # path (tests/test_lif_triton.py in Triton's interpreter)
    "5b910c40860d5b1908936c9f6eeb9c8bd416fe9c": (),
}


def family_paths(spec: Spec) -> tuple[str, ...]:
    """Package files whose change alters what the row's runs computed (neuron family, model, rule)."""
    fam, rule = spec.model.family, spec.rule.name
    found = [
        *sorted(_PACKAGE.glob(f"neurons/{fam}*")),
        *sorted(_PACKAGE.glob(f"models/{fam}*")),
        *sorted(_PACKAGE.glob(f"rules/{rule}*")),
    ]
    return tuple(str(p.relative_to(_PACKAGE.parent)) for p in found)


@cache
def _git(*args: str) -> tuple[int, str]:
    try:
        out = subprocess.run(
            ["git", *args], cwd=_PACKAGE.parent, capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return -1, ""
    return out.returncode, out.stdout.strip()


@cache
def changed_since(commit: str, paths: tuple[str, ...]) -> bool | None:
    """Whether ``paths`` differ between ``commit`` and ``HEAD``; ``None`` when git cannot tell."""
    if not commit or commit == "unknown" or not paths:
        return None
    code, _ = _git("cat-file", "-e", f"{commit}^{{commit}}")
    if code != 0:
        return None
    code, _ = _git("diff", "--quiet", commit, "HEAD", "--", *paths)
    if code not in (0, 1):
        return None
    return code == 1 and not _moved_only(commit, paths)


def _moved_only(commit: str, paths: tuple[str, ...]) -> bool:
    """Every commit since ``commit`` (an ancestor of ``HEAD``) that touched ``paths`` is in :data:`RELAYOUTS`."""
    if not RELAYOUTS or _git("merge-base", "--is-ancestor", commit, "HEAD")[0] != 0:
        return False
    stems = {p.removesuffix(".py") for p in paths}
    before = sorted({old for moved in RELAYOUTS.values() for old in moved if old.removesuffix(".py") in stems})
    # merges are skipped: what a merge brings to these paths is in the commits it merges, which are listed
    code, out = _git("rev-list", "--no-merges", f"{commit}..HEAD", "--", *paths, *before)
    touched = out.split()
    return code == 0 and bool(touched) and all(c in RELAYOUTS for c in touched)


#: spec sections that define the method (a profile changes only the budget inside ``train`` and ``dataset``).
_METHOD_KEYS = ("model", "encoder", "rule", "loss", "optimizer", "schedule")


def method_changed(spec: Spec, r: RunRecord) -> bool:
    """The record ran another method than the spec now states (e.g. a quick run before a spec change)."""
    if not r.spec:
        return False
    now = spec.to_dict()
    same = all(r.spec.get(k) == now[k] for k in _METHOD_KEYS)
    clip = (r.spec.get("train") or {}).get("grad_clip")
    return not (same and clip == spec.train.grad_clip)


def provenance_flags(spec: Spec, runs: list[RunRecord]) -> list[str]:
    """Marks for the records behind one row (empty when all ran on one clean, current commit)."""
    flags: list[str] = []
    old = sorted(r.seed for r in runs if method_changed(spec, r))
    if old:
        flags.append("spec's method changed since: seed " + ", ".join(map(str, old)))
    commits = sorted({r.git_commit for r in runs})
    dirty = sorted(r.seed for r in runs if r.git_commit.endswith("+dirty"))
    if dirty:
        flags.append("dirty tree: seed " + ", ".join(map(str, dirty)))
    if len(commits) > 1:
        flags.append(f"mixed commits ({len(commits)})")
    paths = family_paths(spec)
    stale, unknown = [], []
    for c in commits:
        base = c.removesuffix("+dirty")
        state = changed_since(base, paths)
        if state is None:
            unknown.append(base or "unknown")
        elif state:
            stale.append(base)
    if stale:
        flags.append("family code changed since " + ", ".join(stale))
    if unknown:
        flags.append("commit not verifiable: " + ", ".join(unknown))
    return flags
