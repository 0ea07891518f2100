"""stable_sort equals a stable sort written independently of torch (Python's ``sorted`` on each row) and
torch.sort(stable=True): values and indices, ties, signed zeros, infinities, ints; and the SIMD path is the one
that runs where the module says it does (otherwise these comparisons would test torch.sort against itself)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snnrepro.neurons.stable_sort import stable_sort


def _python_stable_sort(x: torch.Tensor, descending: bool) -> torch.Tensor:
    """Indices of a stable sort of each row by Python's ``sorted`` (stable; ``-0.0 == 0.0``), not by torch."""
    sign = -1 if descending else 1
    rows = (x.flatten(0, -2) if x.dim() > 1 else x[None]).tolist()
    order = [sorted(range(len(row)), key=lambda i, row=row: sign * row[i]) for row in rows]
    return torch.tensor(order, dtype=torch.int64).reshape(x.shape)


def _same_as_torch(x: torch.Tensor, descending: bool) -> None:
    values, indices = stable_sort(x, descending=descending)
    ref_indices = _python_stable_sort(x, descending)
    assert torch.equal(indices, ref_indices)
    assert torch.equal(values, x.gather(-1, ref_indices))
    ref_values, torch_indices = torch.sort(x, dim=-1, descending=descending, stable=True)
    assert torch.equal(indices, torch_indices) and torch.equal(values, ref_values)
    assert values.dtype == x.dtype and indices.dtype == torch.int64


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("descending", [False, True])
def test_floats_with_ties_zeros_and_infinities(dtype: torch.dtype, descending: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(9, 300, generator=g) * 4).round()  # many ties, as quantised latency codes
    x[0, :6] = torch.tensor([float("inf"), -float("inf"), -0.0, 0.0, -0.0, 0.0])
    x[1] = 8.0  # a row of equal values: the order is the positions'
    _same_as_torch(x.to(dtype), descending)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.int16, torch.uint8, torch.bool])
@pytest.mark.parametrize("descending", [False, True])
def test_integers_and_1d(dtype: torch.dtype, descending: bool) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 2 if dtype == torch.bool else 40, (5000,), generator=g).to(dtype)
    _same_as_torch(x, descending)


def test_values_outside_32_bits_and_small_inputs_use_torch() -> None:
    _same_as_torch(torch.tensor([2**40, -(2**40), 3] * 200), False)
    _same_as_torch(torch.tensor([[3.0, 1.0, 3.0]]), True)
    _same_as_torch(torch.empty(4, 0), False)


def test_simd_path_runs_where_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    """CPU float32/16, bfloat16 and 32-bit integers of >= 256 elements never call torch.sort; the rest do."""
    calls: list[torch.dtype] = []
    real_sort = torch.sort

    def spy(x: torch.Tensor, *args: object, **kwargs: object) -> object:
        calls.append(x.dtype)
        return real_sort(x, *args, **kwargs)

    monkeypatch.setattr(torch, "sort", spy)
    g = torch.Generator().manual_seed(2)
    x = (torch.randn(4, 300, generator=g) * 3).round()
    for fast in (x, x.half(), x.bfloat16(), x.to(torch.int32), x.to(torch.int64), (x > 0)):
        stable_sort(fast, descending=True)
    assert calls == []
    for slow in (x.double(), torch.tensor([2**40, -(2**40), 3] * 200), x[:1, :10]):
        stable_sort(slow)
    assert calls == [torch.float64, torch.int64, torch.float32]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, width=32), min_size=1, max_size=40), st.booleans())
def test_random_float32_rows(values: list[float], descending: bool) -> None:
    """Short random lists repeated to a row of 320 (so every value is tied with others) and shuffled."""
    x = torch.tensor(values, dtype=torch.float32).repeat(320 // len(values) + 1)[:320]
    g = torch.Generator().manual_seed(len(values))
    _same_as_torch(torch.stack([x, x[torch.randperm(320, generator=g)]]), descending)
