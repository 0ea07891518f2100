"""What every spec in experiments/ builds: module tree, state-dict keys and shapes (meta device), and, for
one small spec per family, a hash of every tensor built under a fixed seed.

``tests/fixtures/model_builds.json`` holds these descriptions as made by the model code before the
architecture planner (issue 16); ``tests/test_models_unchanged.py`` checks that the current code builds the
same.  Regenerate (only when a change of the built models is intended) with
``PYTHONPATH=. python tests/model_builds.py > tests/fixtures/model_builds.json``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

FIXTURE = Path(__file__).parent / "fixtures" / "model_builds.json"

#: one small spec per family whose tensor values are compared (built for real under ``torch.manual_seed(0)``)
VALUE_SPECS = (
    "cifar10-relu-cnn",
    "mnist-stdbp-mlp400",
    "mnist-stdbp-cnn",
    "xor-rsn-absolute",
    "mnist-rsn-cnn",
    "tidigits-iir-mlp",
    "mnist-iir-cnn",
    "mnist-bpsta-small",
    "mnist-brp-cnn",
    "fsdd-brp-cnn1d",
)


#: (family, arch, loader sample shape, classes, params): architectures each family refuses, with the message
ERROR_CASES: list[tuple[str, str, tuple[int, ...], int, dict[str, Any]]] = [
    (fam, arch, shape, classes, params)
    for fam in ("relu", "relpsp", "resonate", "iir", "lif", "brp")
    for arch, shape, classes, params in (
        ("784-400", (1, 28, 28), 10, {}),
        ("784-400-12", (1, 28, 28), 10, {}),
        ("28x28-6C5-P2-10", (1, 28, 28), 10, {"padding": "full"}),
        ("400-6C5-10", (1, 28, 28), 10, {}),
        ("400-P2-10", (1, 28, 28), 10, {}),
        ("6C40-10", (1, 28, 28), 10, {}),
        ("6C40-10", (1, 28, 28), 10, {"padding": "valid"}),
        ("6C3S2-10", (1, 28, 28), 10, {}),
        ("6C3-P40-10", (1, 28, 28), 10, {}),
        ("6C3-AP2-10", (1, 28, 28), 10, {}),
        ("6C3-DP-10", (1, 28, 28), 10, {}),
        ("6C3-2Voting", (1, 28, 28), 10, {}),
        ("6C3-2Voting-10", (1, 28, 28), 10, {}),
        ("S2-FC10", (1, 28, 28), 10, {}),
        ("Conv1x3x4-S2-FC10", (1, 1, 6), 10, {}),
        ("Conv1x3x4-S9-FC10", (1, 1, 6), 10, {}),
        ("Conv3x3x4-DP-FC10-DP", (1, 8, 8), 10, {}),
        ("6C3-10", (1, 28, 28), 10, {"bogus": 1}),
    )
]


def error_of(case: tuple[str, str, tuple[int, ...], int, dict[str, Any]]) -> str:
    """What building ``case`` raises (type and message), or ``ok``."""
    from snnrepro.registry import MODELS

    fam, arch, shape, classes, params = case
    try:
        with torch.device("meta"):
            MODELS.get(fam)(arch, shape, classes, **params)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def build_net(spec_id: str, device: str | None = "meta") -> nn.Module:
    """The network (without encoder) that ``spec_id``'s full profile builds."""
    import snnrepro  # noqa: F401 - registers the plugins
    from snnrepro.plugins import import_submodules
    from snnrepro.registry import DATASETS, MODELS
    from snnrepro.spec import load_spec

    for pkg in ("snnrepro.data", "snnrepro.models"):
        import_submodules(pkg)
    spec = load_spec(spec_id)
    shape, classes = DATASETS.get(spec.dataset.name).shape(**spec.dataset.params)
    build = MODELS.get(spec.model.family)
    if device == "meta":
        with torch.device("meta"):
            return build(spec.model.arch, tuple(shape), classes, **spec.model.params)
    return build(spec.model.arch, tuple(shape), classes, **spec.model.params)


def model_key(spec_id: str) -> dict[str, Any]:
    """What a spec asks its model factory for: a fixture entry holds only while this is unchanged."""
    import snnrepro  # noqa: F401
    from snnrepro.plugins import import_submodules
    from snnrepro.registry import DATASETS
    from snnrepro.spec import load_spec

    import_submodules("snnrepro.data")
    spec = load_spec(spec_id)
    shape, classes = DATASETS.get(spec.dataset.name).shape(**spec.dataset.params)
    key = {"family": spec.model.family, "arch": spec.model.arch, "params": spec.model.params,
           "shape": list(shape), "classes": classes}  # fmt: skip
    return json.loads(json.dumps(key, sort_keys=True))


def describe(net: nn.Module) -> dict[str, Any]:
    """Module tree (a hash of its repr) and state-dict keys with shapes."""
    return {
        "repr": hashlib.sha256(repr(net).encode()).hexdigest(),
        "state": [[k, list(v.shape), str(v.dtype)] for k, v in net.state_dict().items()],
    }


def value_hashes(spec_id: str) -> dict[str, str]:
    torch.manual_seed(0)
    net = build_net(spec_id, device=None)
    return {
        k: hashlib.sha256(v.detach().contiguous().cpu().numpy().tobytes()).hexdigest()
        for k, v in net.state_dict().items()
    }


def spec_ids() -> list[str]:
    from snnrepro.spec import spec_files

    return sorted(spec_files())


def main() -> None:
    out: dict[str, Any] = {"torch": torch.__version__, "specs": {}, "values": {}}
    for sid in spec_ids():
        try:
            out["specs"][sid] = describe(build_net(sid))
        except Exception as exc:  # recorded: the new code must fail the same way
            out["specs"][sid] = {"error": f"{type(exc).__name__}: {exc}"}
        out["specs"][sid]["model"] = model_key(sid)
    out["errors"] = [error_of(case) for case in ERROR_CASES]
    for sid in VALUE_SPECS:
        out["values"][sid] = value_hashes(sid)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
