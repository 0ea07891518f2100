"""``snnrepro data check``: which datasets are present, missing (exact files and folder) or downloadable."""

from __future__ import annotations

from pathlib import Path

from snnrepro.registry import DATASETS

#: the columns of ``data check --format json|tsv``
CHECK_KEYS = ["dataset", "status", "folder", "missing", "note"]


def check_rows(names: list[str] | None, root: Path) -> list[dict[str, object]]:
    """One row per dataset (every registered one without ``names``): status, folder, missing files, note, and
    ``detail`` (the first eight missing files and the note) for the table."""
    rows: list[dict[str, object]] = []
    for name in names or DATASETS.names():
        a = DATASETS.get(name).check(root)
        shown = a.missing[:8] + ([f"... and {len(a.missing) - 8} more"] if len(a.missing) > 8 else [])
        rows.append(
            {
                "dataset": name, "status": a.status, "folder": str(a.folder), "missing": list(a.missing),
                "note": a.note, "detail": "\n".join(x for x in ("\n".join(shown), a.note) if x),
            }
        )  # fmt: skip
    return rows
