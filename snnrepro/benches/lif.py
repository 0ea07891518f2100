"""Benchmark: one training step of a small conv SNN in snnrepro's LIF core vs SpikingJelly, snnTorch, Norse.

Network (N-MNIST-sized input ``[T=16, B=32, 2, 34, 34]``, 3x3 convolutions with padding 1)::

    Conv(2->32) - LIF - MP2 - Conv(32->64) - LIF - MP2 - FC(4096->256) - LIF - FC(256->10) - LIF

loss = MSE between the output rate (mean over T) and one-hot labels, Adam (lr 1e-3).  Every
implementation uses hard reset to 0, threshold 1, decay 0.5 (SpikingJelly ``tau=2``, snnTorch
``beta=0.5``) and an arctan surrogate where the library offers one; Norse's multi-step ``LIF`` is its
current-based LIF with the SuperSpike surrogate (its defaults).  Peers that are not installed are
skipped with a note (``pip install snnrepro[bench]``).

Rows: ms per step (median after warm-up; the checkpointed row trades a second forward for memory;
the Triton row (``backend="triton"``, :mod:`snnrepro.neurons.lif.triton_kernel`) only on CUDA, its note
gives the ratio to SpikingJelly's multi-step net, target <= 1.5x),
ratio to the fastest peer, ratio to ``T x`` the same-shape
ANN step (ReLU instead of LIF, one sample batch per step), and memory: on CUDA the peak allocated
memory, on CPU the bytes of tensors autograd saves for backward during one forward (deduplicated by
storage) - the memory that grows with T.  The glibc allocator setting in effect
(``MALLOC_MMAP_MAX_``/``MALLOC_TRIM_THRESHOLD_``) is written into the notes: it changes CPU timings of
every multi-step implementation (large activations are otherwise page-faulted afresh every step).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from snnrepro.bench import BenchRow, interleaved_ms
from snnrepro.models.multistep import TimeDistributed, checkpoint_segments
from snnrepro.neurons.lif import LIF
from snnrepro.registry import BENCHES

T, B, CLASSES = 16, 32, 10
FUSED = "snnrepro LIF (fused time loop)"
TRITON = "snnrepro LIF (Triton kernels)"
SJ_MULTI = "SpikingJelly (multi-step)"
CHECKPOINTED = "snnrepro LIF (fused, activation checkpointing)"
DECAY, THETA = 0.5, 1.0


def _convs() -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    conv1, conv2 = nn.Conv2d(2, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1)
    return conv1, conv2, nn.Linear(64 * 8 * 8, 256), nn.Linear(256, CLASSES)


class SnnreproNet(nn.Module):
    """The bench net with :class:`snnrepro.neurons.lif.LIF` (fused time loop) and ``[T*B]`` synapses."""

    def __init__(self, backend: str = "fused", checkpoint: bool = False) -> None:
        super().__init__()
        c1, c2, f1, f2 = _convs()
        kw = dict(decay=DECAY, threshold=THETA, reset="hard", surrogate="atan", backend=backend)
        self.net = nn.Sequential(
            TimeDistributed(c1), LIF(**kw), TimeDistributed(nn.MaxPool2d(2)),
            TimeDistributed(c2), LIF(**kw), TimeDistributed(nn.MaxPool2d(2)),
            TimeDistributed(nn.Flatten()), TimeDistributed(f1), LIF(**kw), TimeDistributed(f2), LIF(**kw),
        )  # fmt: skip
        if checkpoint:
            self.net = checkpoint_segments(self.net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(0)


class AnnNet(nn.Module):
    """The same shapes with ReLU, one step: the reference a multi-step SNN is compared with (x T)."""

    def __init__(self) -> None:
        super().__init__()
        c1, c2, f1, f2 = _convs()
        self.net = nn.Sequential(
            c1, nn.ReLU(), nn.MaxPool2d(2), c2, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), f1, nn.ReLU(), f2
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _spikingjelly(multi_step: bool) -> nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    class SJNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c1, c2, f1, f2 = _convs()

            def node() -> nn.Module:
                return neuron.LIFNode(
                    tau=2.0, decay_input=False, v_threshold=THETA, v_reset=0.0,
                    surrogate_function=surrogate.ATan(), detach_reset=False,
                )  # fmt: skip

            self.net = nn.Sequential(
                layer.SeqToANNContainer(c1) if multi_step else c1, node(), layer.MaxPool2d(2),
                layer.SeqToANNContainer(c2) if multi_step else c2, node(), layer.MaxPool2d(2),
                layer.Flatten(), layer.SeqToANNContainer(f1) if multi_step else f1, node(),
                layer.SeqToANNContainer(f2) if multi_step else f2, node(),
            )  # fmt: skip
            functional.set_step_mode(self.net, "m" if multi_step else "s")
            self.multi_step = multi_step

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            functional.reset_net(self.net)
            if self.multi_step:
                return self.net(x).mean(0)
            return torch.stack([self.net(x[t]) for t in range(x.shape[0])]).mean(0)

    return SJNet()


def _snntorch() -> nn.Module:
    import snntorch as snn
    from snntorch import surrogate

    class SnnTorchNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1, self.c2, self.f1, self.f2 = _convs()
            kw = dict(beta=DECAY, threshold=THETA, spike_grad=surrogate.atan(), reset_mechanism="zero")
            self.l1, self.l2, self.l3, self.l4 = (snn.Leaky(**kw) for _ in range(4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            m1, m2, m3, m4 = (lif.reset_mem() for lif in (self.l1, self.l2, self.l3, self.l4))
            outs = []
            for t in range(x.shape[0]):
                s, m1 = self.l1(self.c1(x[t]), m1)
                s, m2 = self.l2(self.c2(F.max_pool2d(s, 2)), m2)
                s, m3 = self.l3(self.f1(F.max_pool2d(s, 2).flatten(1)), m3)
                s, m4 = self.l4(self.f2(s), m4)
                outs.append(s)
            return torch.stack(outs).mean(0)

    return SnnTorchNet()


def _norse() -> nn.Module:
    import norse.torch as norse

    class NorseNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c1, c2, f1, f2 = _convs()
            p = norse.LIFParameters(v_th=torch.tensor(THETA))
            self.net = nn.Sequential(
                TimeDistributed(c1), norse.LIF(p), TimeDistributed(nn.MaxPool2d(2)),
                TimeDistributed(c2), norse.LIF(p), TimeDistributed(nn.MaxPool2d(2)),
                TimeDistributed(nn.Flatten()), TimeDistributed(f1), norse.LIF(p), TimeDistributed(f2), norse.LIF(p),
            )  # fmt: skip

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = x
            for m in self.net:
                out = m(out)
                if isinstance(out, tuple):
                    out = out[0]
            return out.mean(0)

    return NorseNet()


PEERS: dict[str, tuple[str, Callable[[], nn.Module]]] = {
    SJ_MULTI: ("spikingjelly", lambda: _spikingjelly(True)),
    "SpikingJelly (single-step loop)": ("spikingjelly", lambda: _spikingjelly(False)),
    "snnTorch (Leaky, per-step loop)": ("snntorch", _snntorch),
    "Norse (multi-step LIF)": ("norse", _norse),
}


def _step_fn(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> Callable[[], None]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.mse_loss(model(x), target).backward()
        opt.step()

    return step


def saved_mb(model: nn.Module, x: torch.Tensor) -> float:
    """MB of distinct storages autograd saves for backward during one forward pass."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            st = t.untyped_storage()
            seen[st.data_ptr()] = max(seen.get(st.data_ptr(), 0), st.nbytes())
        except (RuntimeError, NotImplementedError):  # no storage to count (e.g. a sparse or wrapper tensor)
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum()
    return sum(seen.values()) / 2**20


def allocator_setting() -> str:
    from snnrepro.bench import allocator_setting as setting

    return "allocator: " + setting()


def _peak_mb(model: nn.Module, fn: Callable[[], None], device: torch.device, x: torch.Tensor) -> float:
    if device.type != "cuda":
        return saved_mb(model, x)
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


@BENCHES.register("lif")
def run(device: torch.device, quick: bool) -> list[BenchRow]:
    """ms per Adam step of the bench net in snnrepro and each installed peer, measured in this process."""
    torch.manual_seed(0)
    x = (torch.rand(T, B, 2, 34, 34, device=device) < 0.15).float()
    target = F.one_hot(torch.randint(0, CLASSES, (B,), device=device), CLASSES).float()
    repeats = 3 if quick else 11
    note = f"T={T}, B={B}, Adam, {allocator_setting()}, threads={torch.get_num_threads()}"
    mem_kind = "peak allocated" if device.type == "cuda" else "saved-for-backward"

    makers: dict[str, Callable[[], nn.Module]] = {"ANN (ReLU), one step": AnnNet}
    skipped: list[str] = []
    for label, (module, make) in PEERS.items():
        if importlib.util.find_spec(module) is None:
            skipped.append(label)
        else:
            makers[label] = make
    makers[FUSED] = lambda: SnnreproNet("fused")
    makers["snnrepro LIF (autograd time loop)"] = lambda: SnnreproNet("autograd")
    makers[CHECKPOINTED] = lambda: SnnreproNet("fused", checkpoint=True)
    triton_skip = _triton_skip(device)
    if triton_skip is None:
        makers[TRITON] = lambda: SnnreproNet("triton")
    models, fns = {}, {}
    for label, make in makers.items():
        torch.manual_seed(0)
        models[label] = make().to(device)
        inp = x[0] if label.startswith("ANN") else x
        fns[label] = _step_fn(models[label], inp, target)
    ms = interleaved_ms(fns, device, warmup=2, repeats=repeats)
    mem = {k: _peak_mb(models[k], fns[k], device, x[0] if k.startswith("ANN") else x) for k in fns}
    ann_label = "ANN (ReLU), one step"
    ann_t = ms[ann_label] * T
    peers = [k for k in ms if k in PEERS]
    fastest = min(peers, key=lambda k: ms[k]) if peers else None
    rows = [BenchRow("lif", f"{ann_label} x T={T}", ann_t, note=f"{note}; one step {ms[ann_label]:.1f} ms")]
    ours = [FUSED, "snnrepro LIF (autograd time loop)", CHECKPOINTED, *([TRITON] if TRITON in ms else [])]
    for label in [*peers, *ours]:
        vs_peer = f"{ms[label] / ms[fastest]:.2f}x fastest peer" if fastest else "no peer installed"
        if label == TRITON and SJ_MULTI in ms:
            vs_peer += f", {ms[label] / ms[SJ_MULTI]:.2f}x {SJ_MULTI} (target <= 1.5x)"
        rows.append(
            BenchRow("lif", label, ms[label], reference="ANN x T", ratio=ms[label] / ann_t, peak_mem_mb=mem[label],
                     note=f"{vs_peer}; {mem_kind} MB")
        )  # fmt: skip
    if fastest:
        rows[len(peers) + 1].note += f"; fastest peer: {fastest}"
    if triton_skip is not None:
        rows.append(BenchRow("lif", TRITON, float("nan"), note=f"skipped: {triton_skip}"))
    for label in skipped:
        rows.append(BenchRow("lif", label, float("nan"), note="skipped: not installed (pip install snnrepro[bench])"))
    return rows


def _triton_skip(device: torch.device) -> str | None:
    """Why the Triton row is not measured on ``device`` (``None``: it is)."""
    if device.type != "cuda":
        return f"the Triton kernels run on CUDA only (device {device.type})"
    if importlib.util.find_spec("triton") is None:
        return "triton is not installed"
    return None
