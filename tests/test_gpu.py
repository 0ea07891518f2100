"""CUDA gives the same scores and gradients as the CPU for every committed spec's model (skipped without a GPU).

Each distinct (family, architecture, params, input shape) among the committed specs is built once,
in float64 and eval mode (no dropout draws); the encoder runs on the CPU (stochastic encoders draw
from the CPU generator) and the same encoded batch goes through the network on both devices.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch

from snnrepro.registry import DATASETS, ENCODERS, LOSSES, MODELS
from snnrepro.spec import load_spec, spec_files

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _distinct_specs() -> list[str]:
    seen: dict[str, str] = {}
    for sid in sorted(spec_files()):
        spec = load_spec(sid, profile="smoke")
        shape, classes = DATASETS.get(spec.dataset.name).shape(**spec.dataset.params)
        key = json.dumps([spec.model.family, spec.model.arch, spec.model.params, spec.encoder.name,
                          spec.encoder.params, list(shape), classes], sort_keys=True, default=str)
        seen.setdefault(key, sid)
    return sorted(seen.values())


@pytest.mark.parametrize("sid", _distinct_specs() if torch.cuda.is_available() else [])
def test_cuda_matches_cpu(sid: str) -> None:
    spec = load_spec(sid, profile="smoke")
    shape, classes = DATASETS.get(spec.dataset.name).shape(**spec.dataset.params)
    torch.manual_seed(0)
    encoder = ENCODERS.get(spec.encoder.name)(**spec.encoder.params).double().eval()
    net_cpu = MODELS.get(spec.model.family)(spec.model.arch, tuple(shape), classes, **spec.model.params)
    net_cpu = net_cpu.double().eval()
    net_gpu = copy.deepcopy(net_cpu).cuda()
    loss_fn = LOSSES.get(spec.loss.name)(**spec.loss.params)
    x = torch.rand(2, *shape, dtype=torch.float64)
    y = torch.randint(0, classes, (2,))
    with torch.no_grad():
        z = encoder(x)
    z = z.double() if z.is_floating_point() else z  # encoders emit float32 spikes/values
    outs = []
    for net, dev in ((net_cpu, "cpu"), (net_gpu, "cuda")):
        scores = net(z.to(dev))
        loss_fn(scores, y.to(dev)).backward()
        grads = {n: p.grad.detach().cpu() for n, p in net.named_parameters() if p.grad is not None}
        outs.append((scores.detach().cpu(), grads))
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=1e-6, atol=1e-9)
    assert outs[0][1].keys() == outs[1][1].keys()
    for name, g in outs[0][1].items():
        torch.testing.assert_close(outs[1][1][name], g, rtol=1e-5, atol=1e-8, msg=f"{sid}: grad of {name}")


# ----------------------------------------------------------------------------- LIF Triton kernels
LIF_TRITON_CONFIGS = {
    "baseline": dict(decay=0.9, threshold=0.5, surrogate={"name": "rectangular", "width": 1.0}, adjust="none"),
    "bpsa": dict(decay=0.9, threshold=0.5, adjust="bpsa", detach_reset=True),
    "bpsa_bpta": dict(decay=0.9, threshold=0.5, adjust="bpsa_bpta", detach_reset=True),
    "bench-atan": dict(decay=0.5, threshold=1.0, surrogate="atan"),
    "brp-refractory": dict(decay=0.2, threshold=0.5, refractory=1),
    "soft-gaussian": dict(decay=0.8, reset="soft", surrogate={"name": "gaussian", "sigma": 0.4}),
}


@pytest.mark.parametrize("name", sorted(LIF_TRITON_CONFIGS))
@pytest.mark.parametrize("shape", [(1, 3, 5), (16, 32, 32, 17, 17), (7, 5, 1031)])
def test_lif_triton_matches_fused_on_cuda(name: str, shape: tuple[int, ...]) -> None:
    """The compiled Triton LIF kernels (``backend="triton"``, and ``auto`` on CUDA) against the fused loop."""
    pytest.importorskip("triton")
    from snnrepro.neurons.lif import lif_multistep

    kw = LIF_TRITON_CONFIGS[name]
    gen = torch.Generator(device="cuda").manual_seed(0)
    theta = kw.get("threshold", 0.5)
    x = (torch.randn(*shape, device="cuda", generator=gen) * 0.6 + 0.9) * theta
    g = torch.randn(*shape, device="cuda", generator=gen)
    outs = {}
    for backend in ("triton", "fused", "auto"):
        xi = x.clone().requires_grad_(True)
        o, h = lif_multistep(xi, backend=backend, return_membrane=True, **kw)
        (o * g).sum().backward()
        outs[backend] = (o.detach(), h, xi.grad)
    assert all(torch.equal(a, b) for a, b in zip(outs["triton"], outs["auto"], strict=True))  # auto is triton
    o_t, h_t, g_t = (t.flatten(1) for t in outs["triton"])
    o_f, h_f, g_f = (t.flatten(1) for t in outs["fused"])
    # neurons are independent: one whose h lands within rounding of theta (CUDA's add vs Triton's fma) may
    # spike differently from then on; such neurons must be rare, all others must agree exactly
    differ = (o_t != o_f).any(0)
    assert differ.float().mean().item() < 1e-4, f"{name}: {int(differ.sum())} neurons spike differently"
    keep = ~differ
    torch.testing.assert_close(h_t[:, keep], h_f[:, keep], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(g_t[:, keep], g_f[:, keep], rtol=1e-5, atol=1e-6)
