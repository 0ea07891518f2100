"""Tables that fit the terminal without cutting ids or tokens, and the same rows as JSON or TSV.

Rich shrinks a table that is wider than the console by cutting cells (``cifar10-bps…``), which breaks
``snnrepro list | grep ID``.  :func:`print_rows` instead

* never wraps or cuts a column marked ``wrap="none"`` (ids, statuses, numbers);
* wraps a ``wrap="token"`` column only between words (an md5 sum or a path is never split);
* may fold a ``wrap="fold"`` column (free text such as a table row's description) down to 12 characters;
* drops columns in their ``drop`` order (1 first) until the rest fits, and, if even that is not enough,
  prints each row as a block of ``name: value`` lines (word-wrapped, never splitting a word that fits a line).

Piped output has the width of ``$COLUMNS`` (80 when unset), as rich decides.  ``--format json|tsv`` prints
every column, unwrapped: one JSON array of objects, or a header line and one tab-separated line per row.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import IO, Any

from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text


class OutputFormat(str, Enum):
    """``--format`` of ``list`` and ``data check``."""

    table = "table"
    json = "json"
    tsv = "tsv"


@dataclass
class Col:
    name: str  # header
    key: str  # key in each row dict
    wrap: str = "token"  # "none" | "token" | "fold"
    drop: int = 0  # 0: always shown; otherwise dropped in increasing order when the table does not fit
    justify: str = "left"
    style: Callable[[str], str | None] | None = None  # cell text -> rich style


FOLD_FLOOR = 12


def cell_text(value: Any) -> str:
    """How a value appears in a terminal cell (lists one item per line, None as ``–``)."""
    if value is None:
        return "–"
    if isinstance(value, list | tuple):
        return "\n".join(cell_text(v) for v in value) if value else "–"
    return str(value)


def _natural(col: Col, cells: list[str]) -> int:
    return max(cell_len(line) for text in [col.name, *cells] for line in text.splitlines() or [""])


def _floor(col: Col, cells: list[str], natural: int) -> int:
    if col.wrap == "none":
        return natural
    longest_word = max((cell_len(w) for text in [col.name, *cells] for w in text.split()), default=1)
    if col.wrap == "fold":
        header = max(cell_len(w) for w in col.name.split())
        return min(natural, max(FOLD_FLOOR, header))
    return min(natural, longest_word)


def overhead(n_columns: int) -> int:
    """Characters a rich table with the default box spends around ``n_columns`` columns (borders, padding)."""
    return 3 * n_columns + 1


def fit_widths(cols: Sequence[Col], rows: list[dict[str, Any]], width: int) -> list[tuple[Col, int]] | None:
    """The columns that fit ``width`` with their content widths, or None when not even the kept ones fit."""
    cells = {c.key: [cell_text(r.get(c.key)) for r in rows] for c in cols}
    kept = list(cols)
    while True:
        nat = [_natural(c, cells[c.key]) for c in kept]
        flo = [_floor(c, cells[c.key], n) for c, n in zip(kept, nat, strict=True)]
        room = width - overhead(len(kept))
        if sum(flo) <= room:
            break
        droppable = [c for c in kept if c.drop]
        if not droppable:
            return None
        kept.remove(min(droppable, key=lambda c: c.drop))
    widths = list(nat)
    excess = sum(widths) - room
    while excess > 0:  # narrow the widest column that may still shrink, one character at a time
        i = max((j for j in range(len(kept)) if widths[j] > flo[j]), key=lambda j: widths[j] - flo[j])
        widths[i] -= 1
        excess -= 1
    return list(zip(kept, widths, strict=True))


def build_table(title: str | None, fitted: list[tuple[Col, int]], rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for col, w in fitted:
        overflow = "fold" if col.wrap == "fold" else "ellipsis"
        table.add_column(col.name, width=w, no_wrap=col.wrap == "none", overflow=overflow, justify=col.justify)
    for r in rows:
        texts = []
        for col, _ in fitted:
            s = cell_text(r.get(col.key))
            texts.append(Text(s, style=(col.style(s) or "") if col.style else ""))
        table.add_row(*texts)
    return table


def print_blocks(console: Console, title: str | None, cols: Sequence[Col], rows: list[dict[str, Any]]) -> None:
    """Each row as ``first-column values`` then indented ``name: value`` lines (for very narrow consoles)."""
    if title:
        console.print(Text(title, style="bold"))
    head = [c for c in cols if c.wrap == "none"]
    rest = [c for c in cols if c.wrap != "none"]
    for r in rows:
        line = Text()
        for i, c in enumerate(head):
            s = cell_text(r.get(c.key))
            line.append(("  " if i else "") + s, style=(c.style(s) or "") if c.style else "")
        console.print(line, overflow="fold")
        for c in rest:
            items = cell_text(r.get(c.key)).splitlines()
            if items in ([], ["–"]):
                continue
            if len(items) == 1:  # "name: value", wrapped lines indented under it
                console.print(Padding(Text(f"{c.name}: {items[0]}"), (0, 0, 0, 4), expand=False), overflow="fold")
                continue
            console.print(Padding(Text(f"{c.name}:"), (0, 0, 0, 4), expand=False))
            for item in items:
                console.print(Padding(Text(item), (0, 0, 0, 6), expand=False), overflow="fold")


def print_rows(
    cols: Sequence[Col],
    rows: list[dict[str, Any]],
    fmt: OutputFormat | str = OutputFormat.table,
    title: str | None = None,
    console: Console | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Print ``rows`` as a fitted table (or blocks), or as JSON / TSV with every column."""
    fmt = OutputFormat(fmt)
    if fmt is not OutputFormat.table:
        (stream or sys.stdout).write(format_rows(rows, [c.key for c in cols], fmt))
        return
    console = console or Console()
    fitted = fit_widths(cols, rows, console.width)
    if fitted is None:
        print_blocks(console, title, cols, rows)
    else:
        console.print(build_table(title, fitted, rows))


def _tsv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list | tuple):
        return ",".join(_tsv_value(x) for x in v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return " ".join(str(v).split())  # no tabs or newlines inside a field


def format_rows(rows: list[dict[str, Any]], keys: Sequence[str], fmt: OutputFormat | str) -> str:
    """JSON (an array of objects with ``keys``) or TSV (header line + one line per row) text."""
    fmt = OutputFormat(fmt)
    if fmt is OutputFormat.json:
        return json.dumps([{k: r.get(k) for k in keys} for r in rows], indent=1, default=str) + "\n"
    if fmt is OutputFormat.tsv:
        lines = ["\t".join(keys)] + ["\t".join(_tsv_value(r.get(k)) for k in keys) for r in rows]
        return "\n".join(lines) + "\n"
    raise ValueError(f"format {fmt.value}: expected json or tsv here")
