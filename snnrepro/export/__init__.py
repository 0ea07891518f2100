"""Trained runs out of the toolkit: weights as safetensors, networks as NIR graphs.

``export_run(ref, fmt, out, results)`` is what ``snnrepro export`` calls; ``ref`` is a run
(``ID[:profile[:seed]]``) or a checkpoint path, see :mod:`snnrepro.engine.evaluate_run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnrepro.export.nir_graph import REFUSED_FAMILIES, ExportRefused, to_nir
from snnrepro.export.safetensors_io import read_safetensors, write_safetensors

FORMATS = ("safetensors", "nir")
SUFFIX = {"safetensors": ".safetensors", "nir": ".nir"}

__all__ = [
    "FORMATS", "REFUSED_FAMILIES", "ExportRefused", "default_out", "export_run", "read_safetensors", "to_nir",
    "write_safetensors",
]  # fmt: skip


def default_out(checkpoint: Path, fmt: str) -> Path:
    """``<run dir>/export/seed-<n>.<suffix>`` beside the run's checkpoints."""
    return checkpoint.parent.parent / "export" / f"{checkpoint.stem}{SUFFIX[fmt]}"


def export_run(ref: str | Path, fmt: str, out: Path | None, results: Path) -> dict[str, Any]:
    """Write run ``ref`` as ``fmt``; returns ``{"path", "format", "id", ...}`` (``nodes`` for NIR)."""
    from snnrepro.engine.evaluate_run import build_model, load_run, sample_shape

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    run = load_run(ref, results)
    spec = run.spec
    path = Path(out) if out is not None else default_out(run.checkpoint, fmt)
    info: dict[str, Any] = {"format": fmt, "id": spec.id, "profile": spec.profile, "seed": run.seed,
                            "warnings": run.warnings}
    family = spec.model.family
    if fmt == "safetensors":
        build_model(run)  # the weights must fit the stored spec's model before they are written
        write_safetensors(path, run.model_state, spec.to_dict(), run.provenance())
    else:
        if family in REFUSED_FAMILIES:  # before building anything
            raise ExportRefused(f"cannot export to NIR: {REFUSED_FAMILIES[family]}; use --format safetensors")
        import nir

        model = build_model(run)
        shape, _ = sample_shape(spec, run.record)
        meta = {
            "id": spec.id, "profile": spec.profile, "seed": run.seed, "spec_hash": run.state.get("spec_hash", ""),
            "encoder": spec.encoder.name, "time_steps": int(spec.encoder.params.get("T", spec.model.params.get("T", 0))
                                                             or 0),
            "git_commit": run.record.git_commit if run.record is not None else "",
        }
        graph = to_nir(model, family, shape, meta)
        path.parent.mkdir(parents=True, exist_ok=True)
        nir.write(str(path), graph)
        info["nodes"] = [type(n).__name__ for n in graph.nodes.values()]
        if family == "iir":
            info["warnings"] = [*info["warnings"], "iir -> CubaLIF: exact below threshold; the reset differs in kind"
                                " (the IIR neuron subtracts V_th, NIR's CubaLIF resets to v_reset): see each node's"
                                " 'reset' metadata"]
    info["path"] = str(path)
    return info
