"""Benchmark: event-to-frame loading of N-MNIST-sized samples (4000 events, 34x34, T 16), uncached vs cached.

Rows (ms per sample; ``ratio`` = loading time / training time per sample, target < 0.10):

- ``convert`` : events_to_frames on events already in memory;
- ``uncached``: read the N-MNIST ``.bin`` file + convert (what the first epoch costs);
- ``cached``  : load the converted ``.npy`` frames from the cache (every later epoch);
- reference   : one training step (forward, MSE, backward, AdamW) of the ``nmnist-bpsta-middle`` network
  on the same frames, per sample at batch 16 (4 with ``--quick`` on CPU), measured in the same process.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from snnrepro.bench import BenchRow, time_step
from snnrepro.data.events.event_frames import EventFrames, FrameSpec
from snnrepro.data.events.event_io import read_nmnist, write_nmnist
from snnrepro.data.events.frames import events_to_frames
from snnrepro.registry import BENCHES

N_EVENTS, SIZE, T, N_FILES, BATCH = 4000, 34, 16, 32, 16


def _write_samples(folder: Path, n: int) -> list[tuple[Path, int]]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        t = np.sort(rng.integers(0, 300_000, N_EVENTS))
        f = folder / f"{i:05d}.bin"
        write_nmnist(f, rng.integers(0, SIZE, N_EVENTS), rng.integers(0, SIZE, N_EVENTS),
                     rng.integers(0, 2, N_EVENTS), t)
        out.append((f, i % 10))
    return out


def _train_ms_per_sample(device: torch.device, repeats: int, batch: int) -> tuple[float, str]:
    from snnrepro.registry import ENCODERS, MODELS
    from snnrepro.spec import load_spec

    spec = load_spec("nmnist-bpsta-middle")
    enc = ENCODERS.get(spec.encoder.name)(**spec.encoder.params)
    net = MODELS.get(spec.model.family)(spec.model.arch, (T, 2, SIZE, SIZE), 10, **spec.model.params)
    model = torch.nn.Sequential(enc, net).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.poisson(torch.full((batch, T, 2, SIZE, SIZE), 0.2)).to(device)
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (batch,)), 10).float().to(device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    return time_step(step, device, warmup=1, repeats=repeats) / batch, f"{spec.model.family} {spec.model.arch}"


@BENCHES.register("data")
def run(device: torch.device, quick: bool) -> list[BenchRow]:
    """ms per sample of N-MNIST-sized event-to-frame loading, uncached vs cached, vs a training step."""
    repeats = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="snnrepro-bench-data-") as tmp:
        root = Path(tmp)
        samples = _write_samples(root, N_FILES)
        spec = FrameSpec((SIZE, SIZE), T, "count")
        uncached = EventFrames("bench", samples, read_nmnist, spec, None, root)
        cached = EventFrames("bench", samples, read_nmnist, spec, root / "cache", root)
        for i in range(N_FILES):
            cached.frames(i)  # fill the cache
        events = [read_nmnist(p) for p, _ in samples]

        def conv() -> None:
            for x, y, p, t in events:
                events_to_frames(x, y, p, t, (SIZE, SIZE), T, "count")

        def load(ds: EventFrames):
            return lambda: [ds[i] for i in range(N_FILES)]

        per = {name: time_step(fn, torch.device("cpu"), warmup=1, repeats=repeats) / N_FILES
               for name, fn in (("convert", conv), ("uncached", load(uncached)), ("cached", load(cached)))}
    try:
        batch = 4 if quick and device.type == "cpu" else BATCH
        train_ms, ref = _train_ms_per_sample(device, max(2, repeats // 2), batch)
    except Exception as e:  # the reference network is another family's; report the data rows anyway
        train_ms, ref = None, f"training reference unavailable: {type(e).__name__}: {e}"
    ref_name = f"train step ({ref}), per sample" if train_ms is not None else None
    note = f"{N_EVENTS} events, {SIZE}x{SIZE}, T={T}; frames/s = 1000*T/ms"
    rows = []
    for name in ("convert", "uncached", "cached"):
        ms = per[name]
        rows.append(BenchRow("data", f"N-MNIST frames {name}", ms, reference=ref_name,
                             ratio=None if train_ms is None else ms / train_ms,
                             note=f"{note}; {1000.0 * T / ms:,.0f} frames/s" + ("" if train_ms else f"; {ref}")))
    if train_ms is not None:
        rows.append(BenchRow("data", ref_name or "", train_ms, note=f"batch {batch}, MSE, AdamW, device {device}"))
    return rows
