"""STDBP training-stability probe: which training setup keeps the output layer alive (docs/stdbp.md).

Trains one STDBP spec (with ``--set`` overrides, e.g. ``train.grad_clip=null``) on its real dataset for
``--epochs`` epochs and logs, every ``--every`` steps, the median gradient norm (before any clip), the
fraction of (sample, output) pairs that are silent in the training batches, and the running batch accuracy;
after every epoch the test accuracy and the test-set fraction of samples whose ten outputs are all silent.
One JSON line per log event goes to ``--out`` so that runs can be compared afterwards.

    SNNREPRO_DATA=../shared/data PYTHONPATH=$PWD python tools/stdbp_stability.py mnist-stdbp-mlp400 \
        --set train.grad_clip=null --epochs 6 --out /tmp/noclip.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from snnrepro.data.loading import data_root, deterministic_subset, load_data
from snnrepro.engine.build import build
from snnrepro.engine.seeding import epoch_generator, seed_everything
from snnrepro.spec import load_spec, parse_set


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--train-subset", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = load_spec(args.spec, "full", parse_set(args.overrides) if args.overrides else None)
    seed_everything(args.seed)
    bundle, source = load_data(spec, data_root(), allow_standin=False)
    train = deterministic_subset(bundle.train, args.train_subset)
    seed_everything(args.seed)
    b = build(spec, bundle, torch.device("cpu"))
    t_max = float(spec.model.params.get("t_max", 4.0))
    clip = spec.train.grad_clip
    params = [p for p in b.model.parameters() if p.requires_grad]
    test = torch.utils.data.DataLoader(bundle.test, batch_size=1000)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    step, t0 = 0, time.perf_counter()
    with args.out.open("w") as log:
        log.write(json.dumps({"spec": spec.id, "overrides": args.overrides, "seed": args.seed, "data": source}) + "\n")
        for epoch in range(args.epochs):
            loader = torch.utils.data.DataLoader(
                train, batch_size=spec.train.batch_size, shuffle=True, generator=epoch_generator(args.seed, epoch)
            )
            norms, silent, correct, seen = [], [], 0, 0
            b.model.train()
            for x, y in loader:
                b.optimizer.zero_grad(set_to_none=True)
                scores = b.model(x)
                loss = b.loss_fn(scores, y)
                loss.backward()
                norm = nn.utils.clip_grad_norm_(params, clip if clip is not None else float("inf"))
                b.optimizer.step()
                norms.append(float(norm))
                silent.append(float((scores.detach() <= -t_max).float().mean()))
                correct += int((scores.argmax(1) == y).sum())
                seen += len(y)
                step += 1
                if step % args.every == 0:
                    row = {
                        "step": step,
                        "epoch": epoch + 1,
                        "grad_norm_median": statistics.median(norms[-args.every :]),
                        "silent_pairs": sum(silent[-args.every :]) / args.every,
                        "train_acc": correct / seen,
                        "loss": float(loss.detach()),
                    }
                    log.write(json.dumps(row) + "\n")
                    log.flush()
            b.scheduler.step()
            b.model.eval()
            hit, n, all_silent = 0, 0, 0
            with torch.no_grad():
                for x, y in test:
                    s = b.model(x)
                    dead = (s <= -t_max).all(1)
                    hit += int(((s.argmax(1) == y) & ~dead).sum())
                    all_silent += int(dead.sum())
                    n += len(y)
            row = {"epoch_end": epoch + 1, "test_acc": hit / n, "test_all_silent": all_silent / n,
                   "wall_s": time.perf_counter() - t0}
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
