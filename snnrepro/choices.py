"""The fixed choices of CLI flags (``--profile``, ``--device``, ``--executor``, ``--keep-checkpoints``) as enums.

Typer turns an enum-typed option into a choice: ``--help`` lists the values and a typo is
reported against the flag (``Invalid value for '--profile': 'ful' is not one of ...``, exit 2)
before any spec is read.  Commands pass ``.value`` (a plain string) on.
"""

from __future__ import annotations

from enum import Enum

from snnrepro.spec import PROFILES

#: CUDA devices addressable by index on the command line
MAX_CUDA_INDEX = 8

Profile = Enum("Profile", [(p, p) for p in PROFILES], type=str)  # type: ignore[misc]
Device = Enum(  # type: ignore[misc]
    "Device", [(d, d) for d in ("auto", "cpu", "cuda", *(f"cuda:{i}" for i in range(MAX_CUDA_INDEX)), "mps")], type=str
)
CompareArch = Enum("CompareArch", [(a, a) for a in ("mlp", "paper")], type=str)  # type: ignore[misc]
Executor = Enum("Executor", [(e, e) for e in ("inline", "local", "slurm")], type=str)  # type: ignore[misc]
#: ``--keep-checkpoints``: the values of :data:`snnrepro.engine.checkpoint.KEEP_CHECKPOINTS` (held equal by a
#: test; listed here so that the CLI's choices need no torch)
KeepCheckpoints = Enum("KeepCheckpoints", [(k, k) for k in ("all", "last", "none")], type=str)  # type: ignore[misc]
KEEP_HELP = (
    "what stays of a run's checkpoints once it finished ok: all (last epoch + its .prev fallback) | last (the "
    "last epoch's, for evaluate/export) | none (nothing; smoke batches, CI). A run that stopped early keeps both"
)


def plain(value: Enum | str) -> str:
    """The string behind a choice (typer passes the enum member)."""
    return str(value.value) if isinstance(value, Enum) else str(value)
