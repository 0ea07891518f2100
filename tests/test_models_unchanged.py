"""Every spec builds the same network as before the architecture planner (issue 16).

The fixture (``tests/fixtures/model_builds.json``, made by :mod:`tests.model_builds` from the code before
the change) holds each spec's module tree and state-dict keys and shapes (so checkpoints and exports still
load), one small spec per family's tensor values under a fixed seed (same parameter init order), and
each family's message for a set of refused architectures.
"""

from __future__ import annotations

import json

import model_builds as mb
import pytest
import torch

FIXTURE = json.loads(mb.FIXTURE.read_text())


def _unchanged_spec(spec_id: str) -> None:
    """Skip a spec added, removed or given another model since the fixture was made (the code is under test)."""
    if spec_id not in mb.spec_ids():
        pytest.skip(f"{spec_id} is no longer in experiments/")
    if mb.model_key(spec_id) != FIXTURE["specs"][spec_id]["model"]:
        pytest.skip(f"{spec_id}'s model or dataset shape changed since the fixture was made")


@pytest.mark.parametrize("spec_id", sorted(FIXTURE["specs"]))
def test_spec_builds_the_same_modules_and_state_keys(spec_id: str) -> None:
    _unchanged_spec(spec_id)
    try:
        got = mb.describe(mb.build_net(spec_id))
    except Exception as exc:
        got = {"error": f"{type(exc).__name__}: {exc}"}
    want = {k: v for k, v in FIXTURE["specs"][spec_id].items() if k != "model"}
    assert got == want


@pytest.mark.parametrize(("case", "want"), list(zip(mb.ERROR_CASES, FIXTURE["errors"], strict=True)),
                         ids=lambda v: "-".join(map(str, v[:2])) if isinstance(v, tuple) else "")
def test_refused_architectures_keep_their_messages(case: tuple, want: str) -> None:
    assert mb.error_of(case) == want


@pytest.mark.skipif(torch.__version__ != FIXTURE["torch"], reason="tensor values were recorded with another torch")
@pytest.mark.parametrize("spec_id", mb.VALUE_SPECS)
def test_same_seed_gives_bit_identical_tensors(spec_id: str) -> None:
    _unchanged_spec(spec_id)
    assert mb.value_hashes(spec_id) == FIXTURE["values"][spec_id]
