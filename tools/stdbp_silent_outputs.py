"""Where an STDBP network's test loss comes from: samples whose target output neuron stays silent.

Usage: ``python tools/stdbp_silent_outputs.py CHECKPOINT [CHECKPOINT ...] [--out FILE.json]``, each
checkpoint a ``<results>/runs/<id>/<profile>/checkpoints/seed-<n>.pt`` (its record beside it).

For every test sample it reads the output spike times ``t_out`` (scores are ``-t_out``; a silent
neuron has ``t_out = t_max``) and reports the fraction of samples whose *target* output is silent,
whose outputs are *all* silent, the accuracy, the mean Eq. 13 loss, and the share of that loss
carried by the target-silent samples (their loss is about ``t_max`` each); and for every hidden layer
the fraction of (sample, neuron) pairs that fired before ``t_max`` and of neurons that fired for no test
sample at all (dead: Eq. 14 gives them no gradient, so they stay dead).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from snnrepro.data.loading import data_root, load_data
from snnrepro.engine.evaluate_run import build_model, load_run


def measure(ckpt: Path) -> dict:
    run = load_run(ckpt, ckpt.parents[3])
    model = build_model(run, "cpu")
    t_max = float(run.spec.model.params["t_max"])
    bundle, _ = load_data(run.spec, data_root(), False)
    loader = DataLoader(bundle.test, batch_size=1000, shuffle=False)
    encoder, net = model[0], model[1]
    n = target_silent = all_silent = correct = 0
    loss_sum = silent_loss = 0.0
    fired_pairs: list[float] = []
    ever_fired: list[torch.Tensor] = []
    with torch.no_grad():
        for x, y in loader:
            hidden = net.spike_times(encoder(x))[:-1]
            if not ever_fired:
                fired_pairs = [0.0] * len(hidden)
                ever_fired = [torch.zeros(h.shape[1:], dtype=torch.bool) for h in hidden]
            for i, h in enumerate(hidden):
                fired = h < t_max
                fired_pairs[i] += float(fired.float().mean(tuple(range(1, fired.dim()))).sum())
                ever_fired[i] |= fired.any(0)
            scores = model(x)
            t_out = -scores
            silent = t_out >= t_max
            loss = F.cross_entropy(scores, y, reduction="none")
            ts = silent.gather(1, y[:, None]).squeeze(1)
            top = scores.max(1, keepdim=True).values
            unique = (scores == top).sum(1) == 1
            correct += int(((scores.argmax(1) == y) & unique).sum())
            n += len(y)
            target_silent += int(ts.sum())
            all_silent += int(silent.all(1).sum())
            loss_sum += float(loss.sum())
            silent_loss += float(loss[ts].sum())
    return {
        "checkpoint": str(ckpt), "epoch": int(run.state["epoch"]) + 1, "samples": n,
        "test_acc": correct / n, "test_loss": loss_sum / n,
        "target_silent_fraction": target_silent / n, "all_silent_fraction": all_silent / n,
        "loss_share_of_target_silent": silent_loss / loss_sum if loss_sum else 0.0,
        "hidden_fired_pair_fraction": [f / n for f in fired_pairs],
        "hidden_dead_neuron_fraction": [1.0 - float(e.float().mean()) for e in ever_fired],
        "git_commit": run.record.git_commit if run.record else "",
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = [measure(c) for c in args.checkpoints]
    for r in rows:
        print(json.dumps(r))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {"tool": "tools/stdbp_silent_outputs.py", "data": os.environ.get("SNNREPRO_DATA", ""), "rows": rows},
                indent=1,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
