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
