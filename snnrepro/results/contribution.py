"""What an analysis adds to the tables, declared beside it: :class:`TableContribution`.

An analysis whose output deserves a table of its own (the ``energy`` analysis: the BPSA/BPTA paper's
Table 5) declares one in a torch-free module ``snnrepro/analyses/<name>_table.py``::

    from snnrepro.registry import TABLES
    from snnrepro.results.contribution import TableContribution

    TABLES.register("<name>")(TableContribution("<name>", "<title>", COLUMNS, rows, markdown))

:mod:`snnrepro.results.tables` and the CLI know only this declaration: ``snnrepro table KEY --analysis
<name>`` prints it (Markdown, CSV, JSON, TSV), and ``reproduce``/``make tables`` write
``results/tables/<paper>-<name>.md`` for every paper whose records hold the analysis' output.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from snnrepro.results.record import RunRecord
from snnrepro.spec import Spec

Rows = list[dict[str, object]]


@dataclass(frozen=True)
class TableContribution:
    """One analysis' table: rows from (specs, run records), their CSV columns and their Markdown.

    ``name`` is the analysis' name (its output is ``record.metrics[name]``); ``title`` follows the key
    in a table's heading (``bpsta: <title>``); ``rows(specs, records)`` gives one dict per row, written
    as CSV/JSON/TSV with ``columns``; ``markdown(rows, title)`` the Markdown text (also when no rows).
    """

    name: str
    title: str
    columns: tuple[str, ...]
    rows: Callable[[list[Spec], list[RunRecord]], Rows]
    markdown: Callable[[Rows, str], str]

    def has_output(self, record: RunRecord) -> bool:
        """Whether ``record`` holds this analysis' output (then its paper gets the table)."""
        return isinstance(record.metrics.get(self.name), dict)


def fmt(x: float | None, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals; ``–`` for a missing value or NaN."""
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"
