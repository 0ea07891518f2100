"""The Triton LIF kernels (``backend="triton"``) against the fused and autograd backends, in Triton's CPU interpreter.

``TRITON_INTERPRET=1`` must be set before ``triton`` is first imported (``triton.language``'s own
helpers such as ``tl.zeros`` are ``@triton.jit`` functions decorated at that import, and a compiled one
cannot be called from an interpreted kernel; ``torch._dynamo`` imports triton early).  Without CUDA,
``tests/conftest.py`` sets it before any import and the tests run in this process; otherwise (a CUDA
machine, whose ``test_gpu.py`` needs compiled kernels) :func:`test_in_interpreter_subprocess` runs this
file in a child pytest with the variable set, and the in-process tests are skipped.  The interpreter
runs the kernels on CPU tensors with numpy, one program at a time: spikes, membranes and input
gradients are compared over every reset, gradient mode (the BPSA/BPTA specs' three), surrogate and
refractoriness, on shapes that are not multiples of the block, several programs wide, and ``T = 1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
import torch

triton = pytest.importorskip("triton")
IN_PROCESS = not isinstance(triton.language.zeros, triton.runtime.JITFunction)  # triton imported interpreted

from snnrepro.neurons.lif import GRADIENT_MODES, LIFConfig, lif_multistep  # noqa: E402
from snnrepro.neurons.lif import kernel as lif_kernel  # noqa: E402
from snnrepro.neurons.surrogate import Rectangular  # noqa: E402

interpreter = pytest.mark.skipif(not IN_PROCESS, reason="runs in test_in_interpreter_subprocess")


@pytest.fixture(scope="module")
def tk() -> Any:
    from snnrepro.neurons.lif import triton_kernel

    assert triton_kernel.interpreted()
    return triton_kernel


@pytest.mark.skipif(IN_PROCESS, reason="the interpreter tests run in this process")
def test_in_interpreter_subprocess() -> None:
    """This file in a child pytest with ``TRITON_INTERPRET=1`` (keeps this process's triton compiled)."""
    env = {**os.environ, "TRITON_INTERPRET": "1", "CUDA_VISIBLE_DEVICES": "", "SNNREPRO_TRITON_CHILD": "1"}
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider", str(Path(__file__).resolve())],
        cwd=root, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    tail = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail, tail


BPSTA = dict(decay=0.9, threshold=0.5, alpha=0.2, surrogate={"name": "rectangular", "width": 1.0})
CONFIGS: dict[str, dict[str, Any]] = {
    **{f"bpsta-{mode}": {**BPSTA, **GRADIENT_MODES[mode]} for mode in GRADIENT_MODES},  # the lif family's specs
    **{f"bpsta-{mode}-soft": {**BPSTA, **GRADIENT_MODES[mode], "reset": "soft"} for mode in GRADIENT_MODES},
    "bpsa-no-detach": {**BPSTA, "adjust": "bpsa", "detach_reset": False},
    "bpsa_bpta-hard-vreset": {**BPSTA, "adjust": "bpsa_bpta", "detach_reset": False, "v_reset": -0.1},
    "bpta-none-reset": {**BPSTA, "adjust": "bpta", "reset": "none"},
    "bench-atan": dict(decay=0.5, threshold=1.0, surrogate="atan"),
    "triangle-v_init": dict(decay=0.7, threshold=0.4, surrogate="triangle", v_init=0.3),
    "sigmoid-soft-detach": dict(decay=0.8, reset="soft", detach_reset=True, surrogate="sigmoid"),
    "fast_sigmoid": dict(decay=0.6, surrogate="fast_sigmoid"),
    "brp-refractory": dict(decay=0.2, threshold=0.5, refractory=1, surrogate={"name": "rectangular", "width": 1.0}),
    "gaussian-refractory2": dict(decay=0.8, v_reset=-0.2, refractory=2, surrogate={"name": "gaussian", "sigma": 0.4}),
    "bpsa-refractory3-soft": dict(decay=0.9, reset="soft", refractory=3, adjust="bpsa_bpta", detach_reset=True),
}
SHAPES = [(1, 3, 5), (5, 2, 129), (7, 3, 5, 90)]  # T = 1; not a block multiple; 1350 neurons, 11 programs


def _run(backend: str, x: torch.Tensor, g: torch.Tensor, kw: dict[str, Any]) -> tuple[torch.Tensor, ...]:
    x = x.clone().requires_grad_(True)
    o, h = lif_multistep(x, backend=backend, return_membrane=True, **kw)
    (o * g).sum().backward()
    assert x.grad is not None
    return o.detach(), h, x.grad


@interpreter
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_triton_matches_fused_and_autograd(tk: Any, name: str, shape: tuple[int, ...]) -> None:
    kw = CONFIGS[name]
    gen = torch.Generator().manual_seed(zlib.crc32(f"{name}{shape}".encode()))
    theta = kw.get("threshold", 0.5)
    x = (torch.randn(*shape, generator=gen) * 0.6 + 0.9) * theta
    g = torch.randn(*shape, generator=gen)
    o_t, h_t, gx_t = _run("triton", x, g, kw)
    assert o_t.dtype == x.dtype and o_t.shape == x.shape
    assert 0 < o_t.sum() < o_t.numel()  # the inputs make some neurons fire, not all
    for backend in ("fused", "autograd"):
        o, h, gx = _run(backend, x, g, kw)
        assert torch.equal(o_t, o), f"{name}: spikes differ from {backend}"
        torch.testing.assert_close(h_t, h, rtol=1e-6, atol=1e-6, msg=f"{name}: membrane vs {backend}")
        torch.testing.assert_close(gx_t, gx, rtol=1e-5, atol=1e-6, msg=f"{name}: dL/dx vs {backend}")
    assert gx_t.abs().sum() > 0


@interpreter
def test_triton_gradients_through_a_synapse_and_two_layers(tk: Any) -> None:
    """Weight gradients of a two-layer net (upstream gradients arrive through spikes of the next layer)."""
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(6, 4, 10, generator=gen) < 0.5).float()
    w1, w2 = torch.randn(12, 10, generator=gen), torch.randn(3, 12, generator=gen) * 0.6
    grads = {}
    for backend in ("triton", "fused"):
        a, b = w1.clone().requires_grad_(True), w2.clone().requires_grad_(True)
        kw = {**BPSTA, **GRADIENT_MODES["bpsa_bpta"]}
        s1 = lif_multistep(x @ a.T, backend=backend, **kw)
        s2 = lif_multistep(s1 @ b.T, backend=backend, **kw)
        s2.mean(0).square().sum().backward()
        grads[backend] = (a.grad, b.grad)
    for got, ref in zip(grads["triton"], grads["fused"], strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)


@interpreter
def test_triton_half_precision_storage(tk: Any) -> None:
    """bfloat16 input: float32 arithmetic inside, spikes and gradients stored as bfloat16."""
    gen = torch.Generator().manual_seed(5)
    x = (torch.randn(4, 2, 33, generator=gen) * 0.5 + 0.35).to(torch.bfloat16)
    kw = {**BPSTA, **GRADIENT_MODES["baseline"]}
    o, h, gx = _run("triton", x, torch.ones_like(x), kw)
    o32, h32, gx32 = _run("fused", x.float(), torch.ones_like(x, dtype=torch.float32), kw)
    assert o.dtype == gx.dtype == torch.bfloat16
    assert torch.equal(o.float(), o32)
    torch.testing.assert_close(gx.float(), gx32, rtol=1e-2, atol=1e-2)


@interpreter
def test_triton_input_without_grad_and_empty(tk: Any) -> None:
    x = torch.randn(3, 2, 4)
    torch.testing.assert_close(lif_multistep(x, backend="triton"), lif_multistep(x, backend="fused"))
    empty = torch.zeros(3, 0, 4)
    assert lif_multistep(empty, backend="triton").shape == empty.shape


@interpreter
def test_triton_unsupported_raises_naming_it(tk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.randn(3, 2, 4)
    with pytest.raises(ValueError, match=r"backend 'triton' does not support dtype torch.float64"):
        lif_multistep(x.double(), backend="triton")

    class Custom(Rectangular):
        name = "custom"

    with pytest.raises(ValueError, match=r"does not support surrogate 'custom'"):
        lif_multistep(x, backend="triton", surrogate=Custom())
    monkeypatch.setattr(tk, "interpreted", lambda: False)  # compiled kernels: CPU tensors are refused
    with pytest.raises(ValueError, match=r"does not support tensors on cpu"):
        lif_multistep(x, backend="triton")
    assert "cpu" in (lif_kernel.triton_unsupported(x, LIFConfig()) or "")


@interpreter
def test_auto_is_fused_on_cpu(tk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` picks triton only for CUDA tensors: on the CPU (even with the interpreter) it is the fused loop."""

    def boom(*_a: Any, **_k: Any) -> None:
        raise AssertionError("auto ran the triton kernels on a CPU tensor")

    monkeypatch.setattr(tk, "lif_triton", boom)
    x = torch.randn(4, 2, 3)
    torch.testing.assert_close(lif_multistep(x, backend="auto"), lif_multistep(x, backend="fused"))
    with pytest.raises(ValueError, match="backend must be one of"):
        lif_multistep(x, backend="cupy")


def test_lif_family_defaults_to_auto_and_spec_hashes_ignore_it() -> None:
    """The ``lif`` family's default backend is ``auto``; specs that do not set it hash as before."""
    from snnrepro.models.lif import LIFNodeConfig, build
    from snnrepro.neurons.lif import LIF
    from snnrepro.spec import load_spec

    assert LIFNodeConfig().backend == "auto"
    net = build("2", (1, 1, 1), 2, gradient="bpsa", relu=False, bn=False, voters=1)
    assert {m.backend for m in net.modules() if isinstance(m, LIF)} == {"auto"}
    spec = load_spec("mnist-bpsta-small")
    assert "backend" not in spec.model.params


AOT_SCRIPT = """
import itertools
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from snnrepro.neurons.lif import triton_kernel as tk

assert not tk.interpreted()
target = GPUTarget("cuda", 90, 32)
scalars = ("lam", "theta", "v_reset", "u0")
for dt, reset, refractory, store in itertools.product(("fp32", "bf16"), (0, 1, 2), (0, 2), (False, True)):
    sig = {"x_ptr": "*" + dt, "o_ptr": "*" + dt, "h_ptr": "*" + dt, "N": "i32", "T": "i32",
           **dict.fromkeys(scalars, "fp32"), **dict.fromkeys(("RESET", "REFRACTORY", "STORE_H", "BLOCK"), "constexpr")}
    consts = {"RESET": reset, "REFRACTORY": refractory, "STORE_H": store, "BLOCK": 1024}
    assert "cubin" in triton.compile(ASTSource(tk._lif_fwd, sig, consts), target=target).asm
flags = (False, True)
variants = [(*v, 0) for v in itertools.product((0, 1, 2), (0, 1), flags, flags)]  # every branch but the surrogate
variants += [(0, 0, True, False, sg) for sg in range(1, 6)]  # each other surrogate once
for reset, refractory, b_from_h, bpsa, sg in variants:
    sig = {"x_ptr": "*fp32", "o_ptr": "*fp32", "go_ptr": "*fp32", "gx_ptr": "*fp32", "N": "i32", "T": "i32",
           **dict.fromkeys((*scalars, "b_const", "sg_p"), "fp32"),
           **dict.fromkeys(("RESET", "REFRACTORY", "B_FROM_H", "BPSA", "SG", "BLOCK"), "constexpr")}
    consts = {"RESET": reset, "REFRACTORY": refractory, "B_FROM_H": b_from_h, "BPSA": bpsa, "SG": sg, "BLOCK": 1024}
    assert "cubin" in triton.compile(ASTSource(tk._lif_bwd, sig, consts), target=target).asm
print("compiled")
"""


@pytest.mark.skipif(os.environ.get("SNNREPRO_TRITON_CHILD") == "1", reason="the parent process runs it")
def test_kernels_compile_for_hopper_without_a_gpu(tmp_path: Path) -> None:
    """The compiled (not interpreted) kernels build to a cubin for sm_90 in every constexpr variant.

    Triton compiles ahead of time without a device (its bundled ptxas), in a child process without
    ``TRITON_INTERPRET``: the check that the interpreter cannot make (types of loop-carried values,
    constexpr branches) on machines without CUDA.
    """
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path)
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", AOT_SCRIPT], cwd=root, env=env, capture_output=True, text=True,
                          timeout=1800)  # fmt: skip
    assert proc.returncode == 0 and "compiled" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-4000:]
