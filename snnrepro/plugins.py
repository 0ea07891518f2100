"""Import every submodule of a package so that their registry decorators run."""

from __future__ import annotations

import importlib
import pkgutil


def import_submodules(package_name: str) -> None:
    """Import all modules of ``package_name`` and, recursively, of its sub-packages (not private ``_`` ones)."""
    package = importlib.import_module(package_name)
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package_name}.{info.name}")
            if info.ispkg:
                import_submodules(f"{package_name}.{info.name}")
