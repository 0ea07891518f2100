"""One-line notices on stderr for what recovers or is merely suspicious: recovery is never silent."""

from __future__ import annotations

import sys


def notice(message: str) -> None:
    """``warning: <message>`` as one line on stderr (checkpoint fallback, rebuilt caches, unverified datasets)."""
    sys.stderr.write(f"warning: {' '.join(message.split())}\n")
    sys.stderr.flush()
