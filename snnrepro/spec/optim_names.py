"""The optimizer and schedule names a spec may choose, without torch.

:mod:`snnrepro.spec.validate` checks names against these; :mod:`snnrepro.engine.optim` registers one factory
per name in :data:`snnrepro.registry.OPTIMIZERS` and :data:`snnrepro.registry.SCHEDULES` (a test
checks that both agree).
"""

from __future__ import annotations

OPTIMIZER_NAMES = ("adam", "adamw", "sgd")
SCHEDULE_NAMES = ("constant", "step", "multistep", "cosine", "cosine_restarts")


def one_of(names: tuple[str, ...]) -> str:
    """``"a, b or c"``: the names as a spec error message lists them."""
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
