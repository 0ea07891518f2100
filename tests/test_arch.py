"""The architecture planner (snnrepro.models.arch.plan): shapes for the papers' strings and every message."""

from __future__ import annotations

import pytest

from snnrepro.models.arch import (
    ArchError,
    Conv,
    Dense,
    Dropout,
    Flatten,
    Pool,
    Voting,
    Wording,
    parse_arch,
    plan,
    split_input,
)

W = Wording("fam: ")


def planned(arch: str, shape: tuple[int, ...], classes: int | None = 10, **kw):
    """``[(token kind, in_shape, out_shape), ...]`` of ``arch`` on loader samples of ``shape``."""
    start, layers = split_input(parse_arch(arch), shape)
    steps = plan(layers, start, arch, classes, kw.pop("wording", W), **kw)
    return [(type(s.token).__name__, s.in_shape, s.out_shape) for s in steps]


def test_stdbp_lenet_valid_padding() -> None:
    assert planned("28x28-6C5-P2-16C5-P2-1024-128-10", (1, 28, 28), padding="valid") == [
        ("Conv", (1, 28, 28), (6, 24, 24)),
        ("Pool", (6, 24, 24), (6, 12, 12)),
        ("Conv", (6, 12, 12), (16, 8, 8)),
        ("Pool", (16, 8, 8), (16, 4, 4)),
        ("Flatten", (16, 4, 4), (256,)),
        ("Dense", (256,), (1024,)),
        ("Dense", (1024,), (128,)),
        ("Dense", (128,), (10,)),
    ]


def test_mlp_input_width_is_the_input_layer() -> None:
    assert planned("784-400-10", (1, 28, 28)) == [
        ("Flatten", (1, 28, 28), (784,)),
        ("Dense", (784,), (400,)),
        ("Dense", (400,), (10,)),
    ]


def test_bpsta_same_padding_dropout_and_voting() -> None:
    steps = planned("128C3-MP2-256C3-AP2-DP-512FC-10Voting", (2, 32, 32), allowed=(Conv, Pool, Dense, Dropout, Voting))
    assert steps == [
        ("Conv", (2, 32, 32), (128, 32, 32)),
        ("Pool", (128, 32, 32), (128, 16, 16)),
        ("Conv", (128, 16, 16), (256, 16, 16)),
        ("Pool", (256, 16, 16), (256, 8, 8)),
        ("Dropout", (256, 8, 8), (256, 8, 8)),
        ("Flatten", (256, 8, 8), (16384,)),
        ("Dense", (16384,), (512,)),
        ("Voting", (512,), (100,)),
    ]


def test_brp_notation_strides_and_1d_pooling() -> None:
    steps = plan(parse_arch("Conv1x3x100-S2-FC1000-FC10"), (1, 1, 20), "a", 10, W, pool_1d=True)
    assert [(s.in_shape, s.out_shape) for s in steps][:2] == [((1, 1, 20), (100, 1, 20)), ((100, 1, 20), (100, 1, 10))]
    assert steps[1].window == (1, 2) and steps[0].padding == (0, 1)
    strided = plan(parse_arch("6C3S2-10"), (1, 28, 28), "b", 10, W)
    assert strided[0].out_shape == (6, 14, 14)


def test_step_fields() -> None:
    steps = plan(parse_arch("6C5-P2-10"), (1, 28, 28), "x", 10, W, padding="same")
    assert isinstance(steps[0].token, Conv) and steps[0].padding == (2, 2) and steps[0].pos == 0
    assert isinstance(steps[1].token, Pool) and steps[1].window == (2, 2)
    assert isinstance(steps[2].token, Flatten) and steps[2].pos == 2 and not steps[2].last
    assert isinstance(steps[3].token, Dense) and steps[3].last


@pytest.mark.parametrize(
    ("arch", "shape", "kw", "message"),
    [
        ("6C3-10", (1, 8, 8), {"padding": "full"}, "fam: padding must be 'same' or 'valid', got 'full'"),
        ("6C3-P2", (1, 8, 8), {}, "fam: '6C3-P2' must end with a dense output layer"),
        ("6C3-12", (1, 8, 8), {}, "fam: output width 12 but the dataset has 10 classes"),
        ("6C3-DP-10", (1, 8, 8), {"allowed": (Conv, Dense)},
         "fam: token Dropout(p=0.5) is not supported in '6C3-DP-10'"),
        ("400-6C5-10", (1, 8, 8), {},
         "fam: convolution Conv(channels=6, kernel=(5, 5), stride=1) needs an image input, got shape (400,) in "
         "'400-6C5-10'"),
        ("6C3S2-10", (1, 8, 8), {"strided": False},
         "fam: strided convolution Conv(channels=6, kernel=(3, 3), stride=2) is not supported in '6C3S2-10'"),
        ("6C9-10", (1, 8, 8), {"padding": "valid"}, "fam: Conv(channels=6, kernel=(9, 9), stride=1) does not fit a 8x8 "
                                                    "map in '6C9-10'"),
        ("AP2-10", (1, 8, 8), {"pools": ("max",)}, "fam: avg pooling Pool(kind='avg', size=2) is not supported in "
                                                   "'AP2-10'"),
        ("400-P2-10", (1, 8, 8), {}, "fam: pooling Pool(kind='max', size=2) needs an image input in '400-P2-10'"),
        ("P9-10", (1, 8, 8), {}, "fam: pooling Pool(kind='max', size=9) does not fit a 8x8 map in 'P9-10'"),
        ("2Voting-10", (1, 8, 8), {"allowed": (Dense, Voting)}, "fam: nVoting must be the last token"),
    ],
)
def test_each_error_message(arch: str, shape: tuple[int, ...], kw: dict, message: str) -> None:
    with pytest.raises(ArchError) as err:
        planned(arch, shape, **kw)
    assert str(err.value) == message


def test_wording_overrides_and_where() -> None:
    wording = Wording("brp model: ", token="{p}{where} is not supported", pool_fit="{p}pooling {size} at {where}")
    with pytest.raises(ArchError, match=r"^brp model: token 2 \(Voting\(voters=2\)\) of '6C3-2Voting-10' is not"):
        planned("6C3-2Voting-10", (1, 8, 8), wording=wording)
    with pytest.raises(ArchError, match=r"^brp model: pooling \(1, 9\) at token 2"):
        planned("Conv1x3x4-S9-FC10", (1, 1, 6), wording=wording, pool_1d=True)


def test_output_width_options() -> None:
    assert planned("2-1", (2,), 2, widths=(2, 1))[-1] == ("Dense", (2,), (1,))
    assert planned("300-7", (300,), None)[-1] == ("Dense", (300,), (7,))  # not checked
