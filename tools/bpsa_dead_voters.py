"""Dead output voters under BPSA (Eq. 9) with and without the TSSL-BP ANN warm-up, on 8x8 digits.

Trains the reduced BPSA/BPTA net ``32C3-MP2-64C3-MP2-128FC-10Voting`` (direct encoding, T = 8, AdamW
1e-3 / wd 1e-4, constant lr, batch 32, MSE on voted rates; the setting of
``tests/test_lif_models.py::test_digits_accuracy_per_gradient_mode``) and prints one JSON line per
(mode, seed, warm-up): test accuracy per epoch (always the SNN's), the best one over the spiking
epochs, and the fraction of output voters that fire on no test digit.  docs/lif.md quotes its output::

    PYTHONPATH=$PWD python tools/bpsa_dead_voters.py --seeds 0 1 2 3 4 --ann 0 1
    PYTHONPATH=$PWD python tools/bpsa_dead_voters.py --seeds 0 1 --ann 0 --modes bpsa bpsa_bpta --epochs 8 --lr-warmup 5
    PYTHONPATH=$PWD python tools/bpsa_dead_voters.py --seeds 0 1 --ann 0 --modes bpsa bpsa_bpta --T 16
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from snnrepro.data.vision.digits import DigitsSource
from snnrepro.encoders.direct import Direct
from snnrepro.models.lif import build


def digits() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    b = DigitsSource().load(Path("."), False, size=8)

    def stack(ds) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.stack([ds[i][0] for i in range(len(ds))]), torch.tensor([ds[i][1] for i in range(len(ds))])

    return stack(b.train), stack(b.test)


def lr_factor(epoch: int, epochs: int, warmup: int) -> float:
    """Constant (``warmup`` 0), else the authors' schedule: lr / (warmup - epoch), then one half-cosine to 0."""
    if warmup == 0:
        return 1.0
    if epoch < warmup:
        return 1.0 / (warmup - epoch)
    return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / max(epochs - warmup, 1)))


def run(
    mode: str, seed: int, ann: int, epochs: int, T: int = 8, batch: int = 32, lr_warmup: int = 0
) -> dict[str, object]:
    (xtr, ytr), (xte, yte) = digits()
    torch.manual_seed(seed)
    snn = build("32C3-MP2-64C3-MP2-128FC-10Voting", (1, 8, 8), 10, gradient=mode, ann_warmup_epochs=ann)
    net = torch.nn.Sequential(Direct(T=T), snn)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    order = torch.Generator().manual_seed(seed)
    accs, dead = [], []
    for epoch in range(epochs):
        snn.set_epoch(epoch, epochs)
        warm = snn.ann_mode
        for group in opt.param_groups:
            group["lr"] = 1e-3 * lr_factor(epoch, epochs, lr_warmup)
        net.train()
        perm = torch.randperm(len(xtr), generator=order)
        for i in range(0, len(xtr), batch):
            idx = perm[i : i + batch]
            loss = F.mse_loss(net(xtr[idx]), F.one_hot(ytr[idx], 10).float())
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        fired: list[torch.Tensor] = []
        hook = snn.body[-1].register_forward_hook(lambda m, a, o, out=fired: out.append(o))
        with torch.no_grad():
            accs.append(round((net(xte).argmax(1) == yte).float().mean().item(), 4))
        hook.remove()
        dead.append(round((fired[0].amax((0, 1)) == 0).float().mean().item(), 3))
        if warm:
            accs[-1] = -accs[-1]  # marks an epoch trained as an ANN (its test accuracy is still the SNN's)
    spiking = [a for a in accs if a >= 0]
    return {"mode": mode, "seed": seed, "ann_warmup_epochs": ann, "epochs": epochs, "T": T, "lr_warmup": lr_warmup,
            "best": max(spiking), "test_acc": accs, "dead_voters": dead}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", nargs="+", default=["baseline", "bpsa", "bpsa_bpta"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--ann", nargs="+", type=int, default=[0, 1], help="ANN warm-up epochs to compare")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--T", type=int, default=8, help="time steps")
    ap.add_argument("--lr-warmup", type=int, default=0, help="0: constant lr; W: the authors' lr/(W-e) then cosine")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for seed in args.seeds:
        for ann in args.ann:
            for mode in args.modes:
                t = time.perf_counter()
                out = run(mode, seed, ann, args.epochs, T=args.T, lr_warmup=args.lr_warmup)
                print(json.dumps({**out, "s": round(time.perf_counter() - t, 1)}), flush=True)


if __name__ == "__main__":
    main()
