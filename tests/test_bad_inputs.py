"""The hostile and careless user, table-driven: every bad input ends in one clean line and loses nothing.

Each case is a spec file or a command line.  Expected: the exit code (2: bad input, refused before
anything is written), a key phrase naming the file, key or flag and the expectation on *one* line of
the output, no traceback, and the results folder byte-for-byte as it was (it holds a finished run
that must survive).  Fault scenarios (a crash mid-run, a full disk, a concurrent run, hostile or
damaged checkpoints and caches) follow, then hypothesis-generated specs.  All in-process (CliRunner).
"""

from __future__ import annotations

import copy
import errno
import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from snnrepro.cli import app
from snnrepro.results.record import (
    RunLock,
    checkpoint_path,
    lock_path,
    previous_path,
    read_record,
    record_path,
)
from snnrepro.spec import deep_merge

BASE: dict[str, Any] = {
    "id": "bad-base",
    "paper": "rsn",
    "table": "Table 3",
    "row": "bad-input battery",
    "reported": 90.0,
    "dataset": {"name": "digits", "params": {"size": 8}},
    "model": {"family": "relu", "arch": "64-16-10"},
    "optimizer": {"name": "adam", "lr": 0.01},
    "train": {"epochs": 2, "batch_size": 64, "seeds": 1},
}
MNIST = {**BASE, "id": "bad-mnist", "dataset": {"name": "mnist", "params": {}}, "model": {"family": "relu",
                                                                                          "arch": "784-16-10"}}
CIFAR = {**BASE, "id": "bad-cifar", "dataset": {"name": "cifar10", "params": {}},
         "model": {"family": "relu", "arch": "3072-16-10"}}
AUSLAN = {**BASE, "id": "bad-auslan", "dataset": {"name": "auslan", "params": {}},
          "model": {"family": "relu", "arch": "990-16-95"}}
SMOKE = ["--profile", "smoke", "--device", "cpu"]


# --------------------------------------------------------------------------- the environment
class Env:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.exp = root / "experiments"
        self.results = root / "results"
        self.specs = root / "specs"
        self.file = root / "a-file.txt"
        self.dir = root / "a-dir"
        self.data = {}  # name -> data root with prepared (damaged/hostile) files

    def spec_file(self, name: str, content: bytes) -> Path:
        path = self.specs / f"{name}.yaml"
        path.write_bytes(content)
        return path


def _invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _snapshot(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def _idx(images: np.ndarray, labels: np.ndarray) -> tuple[bytes, bytes]:
    n, h, w = images.shape
    return (struct.pack(">IIII", 2051, n, h, w) + images.tobytes(), struct.pack(">II", 2049, n) + labels.tobytes())


def _mnist_root(root: Path, damage: str) -> Path:
    """A data root whose MNIST/raw holds small IDX files, one of them damaged as ``damage`` says."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 6), ("t10k", 3)):
        img, lab = _idx(np.zeros((n, 28, 28), np.uint8), np.arange(n, dtype=np.uint8))
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(img)
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(lab)
    victim = raw / "train-images-idx3-ubyte"
    data = victim.read_bytes()
    if damage == "truncated":
        victim.write_bytes(data[: len(data) // 3])
    elif damage == "magic":
        victim.write_bytes(b"\x1f\x8b\x08\x00" + data[4:])
    elif damage == "gz":  # the distributed name, but not the distributed file
        victim.unlink()
        (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(data)[:-20])
    elif damage == "labels":
        (raw / "train-labels-idx1-ubyte").write_bytes(_idx(np.zeros((6, 28, 28), np.uint8),
                                                           np.full(6, 200, np.uint8))[1])
    return root


class _Touch:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _cifar_root(root: Path) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1],
                         "x": _Touch(root / "pwned-by-cifar")}, fh)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": ["a"] * 10}))
    return root


def _auslan_root(root: Path) -> Path:
    """The UCI zip as AUSLAN expects it, wrapping a tar whose member climbs out of the data root."""
    import tarfile

    from snnrepro.data.audio.auslan import ARCHIVE

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in (("tctodd1/a-1.tsd", b"0\t" * 21 + b"0\n"), ("../../../escaped-by-auslan.tsd", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    folder = root / "AUSLAN"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / ARCHIVE.name, "w") as zf:
        zf.writestr("tctodd.tar.gz", buf.getvalue())
    return root


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("bad-inputs")
    e = Env(root)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"SNNREPRO_EXPERIMENTS": e.exp, "SNNREPRO_RESULTS": e.results,
                           "SNNREPRO_DATA": root / "data", "SNNREPRO_CACHE": root / "cache"}.items():
            mp.setenv(key, str(value))
        mp.setenv("SNNREPRO_OFFLINE", "1")
        for spec in (BASE, MNIST, CIFAR, AUSLAN):
            (e.exp / "rsn").mkdir(parents=True, exist_ok=True)
            (e.exp / "rsn" / f"{spec['id']}.yaml").write_text(yaml.safe_dump(spec))
        e.specs.mkdir()
        e.file.write_text("not a folder")
        e.dir.mkdir()
        (root / "dir-spec.yaml").mkdir()
        for damage in ("truncated", "magic", "gz", "labels"):
            e.data[f"mnist-{damage}"] = _mnist_root(root / f"data-mnist-{damage}", damage)
        e.data["cifar"] = _cifar_root(root / "data-cifar")
        e.data["auslan"] = _auslan_root(root / "data-auslan" / "inner")
        first = _invoke("run", "bad-base", *SMOKE, "--seed", "0")  # the finished record every case must keep
        assert first.exit_code == 0, first.output
        yield e


def _check_clean(res: Any, code: int, phrase: str, before: dict[str, str], env: Env) -> None:
    out = res.output
    assert "Traceback" not in out, out
    assert res.exit_code == code, (res.exit_code, out)
    lines = [ln for ln in out.splitlines() if phrase in ln]
    assert lines, f"{phrase!r} on no single line of:\n{out}"
    assert all(len(ln) < 700 for ln in lines), "a message echoes too much"
    assert _snapshot(env.results) == before, "the results folder changed"


# --------------------------------------------------------------------------- malformed specs (mutations of BASE)
NESTED: Any = 1
for _ in range(40):
    NESTED = {"k": NESTED}
INF, NAN = float("inf"), float("nan")
SLUG = "id: expected a lower-case slug"

MUTATIONS: list[tuple[str, dict[str, Any], str]] = [
    # ids are paths: the slug rule
    ("id-dotdot", {"id": "../../escape"}, SLUG),
    ("id-absolute", {"id": "/tmp/snnrepro-escape"}, SLUG),
    ("id-empty", {"id": ""}, SLUG),
    ("id-newline", {"id": "a\nb"}, SLUG),
    ("id-upper", {"id": "Bad-Id"}, SLUG),
    ("id-slash", {"id": "a/b"}, SLUG),
    ("id-leading-dot", {"id": ".hidden"}, SLUG),
    ("id-double-dot", {"id": "a..b"}, SLUG),
    ("id-too-long", {"id": "a" * 101}, SLUG),
    ("id-space", {"id": "a b"}, SLUG),
    ("id-unicode", {"id": "café"}, SLUG),
    ("id-backslash", {"id": "a\\..\\b"}, SLUG),
    ("id-null", {"id": None}, "id: expected a string"),
    ("id-list", {"id": ["a"]}, "id: expected a string"),
    # bookkeeping keys
    ("row-mapping", {"row": {"a": 1}}, "row: expected a string"),
    ("paper-unknown", {"paper": "nips"}, "paper: unknown paper"),
    ("metric-unknown", {"metric": "top5"}, "metric: expected test_acc or best_test_acc"),
    ("reported-over-100", {"reported": 101}, "reported: expected a percentage"),
    ("reported-nan", {"reported": NAN}, "reported: expected a finite number"),
    ("tolerance-inf", {"tolerance": INF}, "tolerance: expected a finite number"),
    ("tolerance-negative", {"tolerance": -1}, "tolerance: expected a non-negative"),
    ("tolerance-string", {"tolerance": "wide"}, "tolerance: expected a number"),
    ("references-value", {"references": [{"method": "x", "value": "high"}]}, "references[0].value: expected"),
    ("references-not-list", {"references": "Someone 2020"}, "references: expected a list"),
    ("unknown-top-key", {"epochs": 3}, "epochs: unknown key"),
    ("non-string-key", {1: "x"}, "1: unknown key"),
    # train
    ("train-not-mapping", {"train": 5}, "train: expected a mapping"),
    ("train-unknown-key", {"train": {"epoch": 3}}, "train.epoch: unknown key"),
    ("epochs-zero", {"train": {"epochs": 0}}, "train.epochs: expected a positive integer"),
    ("epochs-negative", {"train": {"epochs": -3}}, "train.epochs: expected a positive integer"),
    ("epochs-huge", {"train": {"epochs": 10**9}}, "train.epochs: expected a positive integer (at most"),
    ("epochs-float", {"train": {"epochs": 1.5}}, "train.epochs: expected an integer"),
    ("epochs-string", {"train": {"epochs": "many"}}, "train.epochs: expected an integer"),
    ("epochs-bool", {"train": {"epochs": True}}, "train.epochs: expected an integer"),
    ("epochs-long-string", {"train": {"epochs": "x" * 100_000}}, "train.epochs: expected an integer"),
    ("batch-zero", {"train": {"batch_size": 0}}, "train.batch_size: expected a positive integer"),
    ("batch-huge", {"train": {"batch_size": 10**12}}, "train.batch_size: expected a positive integer"),
    ("eval-batch-zero", {"train": {"eval_batch_size": 0}}, "train.eval_batch_size: expected a positive"),
    ("seeds-zero", {"train": {"seeds": 0}}, "train.seeds: expected a positive integer"),
    ("seeds-huge", {"train": {"seeds": 10**6}}, "train.seeds: expected a positive integer"),
    ("train-subset-zero", {"train": {"train_subset": 0}}, "train.train_subset: expected a positive integer"),
    ("max-batches-negative", {"train": {"max_batches": -1}}, "train.max_batches: expected a positive integer"),
    ("grad-clip-negative", {"train": {"grad_clip": -1}}, "train.grad_clip: expected a positive"),
    ("grad-clip-zero", {"train": {"grad_clip": 0}}, "train.grad_clip: expected a positive"),
    ("grad-clip-inf", {"train": {"grad_clip": INF}}, "train.grad_clip: expected a finite number"),
    ("num-workers-negative", {"train": {"num_workers": -1}}, "train.num_workers: expected 0"),
    ("num-workers-huge", {"train": {"num_workers": 100_000}}, "train.num_workers: expected 0"),
    ("deterministic-string", {"train": {"deterministic": "yes"}}, "train.deterministic: expected true/false"),
    # optimizer
    ("lr-inf", {"optimizer": {"lr": INF}}, "optimizer.lr: expected a finite number"),
    ("lr-nan", {"optimizer": {"lr": NAN}}, "optimizer.lr: expected a finite number"),
    ("lr-1e999", {"optimizer": {"lr": "1e999"}}, "optimizer.lr: expected a finite number"),
    ("lr-huge-int", {"optimizer": {"lr": 10**400}}, "optimizer.lr: expected a finite number"),
    ("lr-zero", {"optimizer": {"lr": 0}}, "optimizer.lr: expected a positive learning rate"),
    ("lr-negative", {"optimizer": {"lr": -0.1}}, "optimizer.lr: expected a positive learning rate"),
    ("lr-list", {"optimizer": {"lr": [0.1]}}, "optimizer.lr: expected a number"),
    ("optimizer-unknown", {"optimizer": {"name": "rmsprop"}}, "optimizer.name: expected adam, adamw or sgd"),
    ("betas-out-of-range", {"optimizer": {"betas": [1.5, 0.9]}}, "optimizer.betas: expected two numbers"),
    ("betas-one", {"optimizer": {"betas": [0.9]}}, "optimizer.betas: expected two numbers"),
    ("betas-three", {"optimizer": {"betas": [0.9, 0.99, 0.5]}}, "optimizer.betas: expected two numbers"),
    ("betas-negative", {"optimizer": {"betas": [-0.1, 0.9]}}, "optimizer.betas: expected two numbers"),
    ("betas-string", {"optimizer": {"betas": "0.9,0.99"}}, "optimizer.betas: expected a list"),
    ("weight-decay-negative", {"optimizer": {"weight_decay": -1e-4}}, "optimizer.weight_decay: expected a non-neg"),
    ("weight-decay-inf", {"optimizer": {"weight_decay": INF}}, "optimizer.weight_decay: expected a finite number"),
    ("momentum-one", {"optimizer": {"name": "sgd", "momentum": 1.0}}, "optimizer.momentum: expected a number in"),
    ("momentum-negative", {"optimizer": {"name": "sgd", "momentum": -0.5}}, "optimizer.momentum: expected"),
    ("nesterov-adam", {"optimizer": {"nesterov": True}}, "optimizer.nesterov: needs optimizer.name sgd"),
    # schedule
    ("schedule-unknown", {"schedule": {"name": "linear"}}, "schedule.name: expected constant"),
    ("restarts-t0-zero", {"schedule": {"name": "cosine_restarts", "t0": 0}}, "schedule.t0: expected a positive"),
    ("restarts-t-mult-zero", {"schedule": {"name": "cosine_restarts", "t_mult": 0}}, "schedule.t_mult: expected"),
    ("restarts-t0-negative", {"schedule": {"name": "cosine_restarts", "t0": -5}}, "schedule.t0: expected"),
    ("step-size-zero", {"schedule": {"name": "step", "step_size": 0}}, "schedule.step_size: expected a positive"),
    ("warmup-negative", {"schedule": {"warmup_epochs": -1}}, "schedule.warmup_epochs: expected a non-negative"),
    ("gamma-zero", {"schedule": {"name": "step", "gamma": 0}}, "schedule.gamma: expected a positive factor"),
    ("gamma-nan", {"schedule": {"name": "step", "gamma": NAN}}, "schedule.gamma: expected a finite number"),
    ("eta-min-above-one", {"schedule": {"name": "cosine", "eta_min": 2.0}}, "schedule.eta_min: expected a fraction"),
    ("milestones-zero", {"schedule": {"name": "multistep", "milestones": [0, 5]}}, "schedule.milestones[0]: exp"),
    ("milestones-strings", {"schedule": {"milestones": ["a"]}}, "schedule.milestones[0]: expected an integer"),
    # registry components and their params
    ("encoder-unknown", {"encoder": {"name": "morse"}}, "encoder.name: unknown encoder"),
    ("encoder-latency-i-max-zero", {"encoder": {"name": "latency", "params": {"i_max": 0}}}, "encoder.params: lat"),
    ("encoder-rate-unknown-param", {"encoder": {"name": "rate", "params": {"TT": 3}}}, "encoder.params: rate()"),
    ("encoder-rate-t-zero", {"encoder": {"name": "rate", "params": {"T": 0}}}, "encoder.params: rate encoder"),
    ("encoder-direct-t-string", {"encoder": {"name": "direct", "params": {"T": "x"}}}, "encoder.params"),
    ("loss-unknown", {"loss": {"name": "hinge"}}, "loss.name: unknown loss"),
    ("loss-bad-param", {"loss": {"name": "cross_entropy", "params": {"smoothing": 0.1}}}, "loss.params"),
    ("rule-unknown", {"rule": {"name": "hebb"}}, "rule.name: unknown learning rule"),
    ("rule-backprop-param", {"rule": {"name": "backprop", "params": {"x": 1}}}, "rule.params: Backprop takes no"),
    ("rule-brp-signal", {"rule": {"name": "brp", "params": {"signal": "shout"}}}, "rule.params: brp: rule.params.sig"),
    ("rule-brp-on-relu", {"rule": {"name": "brp"}}, "rule.params: brp: the model"),
    ("analysis-unknown", {"analyses": [{"name": "magic"}]}, "analyses[0].name: unknown analysis"),
    ("analysis-bad-param", {"analyses": [{"name": "silent_neurons", "params": {"bogus": 1}}]}, "analyses[0].params"),
    ("model-family-unknown", {"model": {"family": "transformer"}}, "model.family: unknown model family"),
    ("model-arch-garbage", {"model": {"arch": "64-x-10"}}, "model.arch"),
    ("model-arch-unallocatable", {"model": {"arch": "64-200000000000-10"}}, "model.arch: '64-200000000000-10' need"),
    ("model-arch-over-16gib", {"model": {"arch": "64-80000000-10"}}, "model.arch: '64-80000000-10' needs 22.4 GiB"),
    ("model-params-unknown", {"model": {"params": {"bogus": 1}}}, "model.params"),
    ("model-params-too-deep", {"model": {"params": NESTED}}, "nested more than 32 levels deep"),
    ("dataset-unknown", {"dataset": {"name": "imagenet"}}, "dataset.name: unknown dataset"),
    ("dataset-size-negative", {"dataset": {"params": {"size": -1}}}, "dataset.params: ValueError: digits"),
    ("dataset-unknown-param", {"dataset": {"params": {"colour": True}}}, "dataset.params: TypeError"),
    # profiles
    ("profile-changes-method", {"profiles": {"smoke": {"model": {"arch": "64-10"}}}}, "profiles.smoke.model: a prof"),
    ("profile-unknown", {"profiles": {"huge": {"train": {"epochs": 1}}}}, "profiles.huge: unknown profile"),
    ("profiles-not-mapping", {"profiles": [1]}, "profiles: expected a mapping"),
    ("profile-epochs-zero", {"profiles": {"smoke": {"train": {"epochs": 0}}}}, "train.epochs: expected a positive"),
]


@pytest.mark.parametrize(("name", "mutation", "phrase"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_malformed_spec(env: Env, name: str, mutation: dict[str, Any], phrase: str) -> None:
    raw = deep_merge(BASE, mutation)
    path = env.spec_file(name, yaml.safe_dump(raw, allow_unicode=True).encode())
    before = _snapshot(env.results)
    # the full profile (smoke would replace the train keys), or smoke for the cases about profiles.smoke
    res = _invoke("run", path, *(SMOKE if "profiles" in mutation else ["--device", "cpu"]))
    _check_clean(res, 2, phrase, before, env)
    assert any(str(path) in ln and phrase in ln for ln in res.output.splitlines()), "the file is not named"


# --------------------------------------------------------------------------- spec files that are not YAML specs
BASE_TEXT = yaml.safe_dump(BASE)
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)
TEXTS: list[tuple[str, bytes, str]] = [
    ("empty-file", b"", "a spec must be a mapping at the top level, got NoneType"),
    ("top-level-list", b"- a\n- b\n", "a spec must be a mapping at the top level, got list"),
    ("top-level-scalar", b"42\n", "a spec must be a mapping at the top level, got int"),
    ("syntax-error", b"id: [unclosed\n", "not valid YAML"),
    ("tab-indent", b"id: x\n\tpaper: rsn\n", "not valid YAML"),
    ("binary", bytes(range(256)) * 4, "not UTF-8 text"),
    ("utf16-bom", BASE_TEXT.encode("utf-16"), "not UTF-8 text (UTF-16"),
    ("utf16-no-bom", BASE_TEXT.encode("utf-16-le"), "NUL bytes"),
    ("nul-byte", BASE_TEXT.encode() + b"notes: a\x00b\n", "NUL bytes"),
    ("latin1", BASE_TEXT.replace("battery", "batt\xe9ry").encode("latin-1"), "not UTF-8 text"),
    ("deep-flow", b"notes: " + b"[" * 3000 + b"]" * 3000 + b"\n", "nested more than 32 levels deep"),
    ("deep-block", ("\n".join(" " * i + f"k{i}:" for i in range(60)) + " 1\n").encode(), "nested more than 32"),
    ("alias-bomb", BOMB.encode(), "aliases (*a) are not allowed"),
    ("alias-simple", (BASE_TEXT + "notes: &n hello\ntable: *n\n").encode(), "aliases (*n) are not allowed"),
    ("merge-key", b"base: &b {epochs: 1}\ntrain:\n  <<: *b\n", "aliases (*b) are not allowed"),
    ("python-object-tag", (BASE_TEXT + "notes: !!python/object/apply:os.system ['touch /tmp/x']\n").encode(),
     "not valid YAML: could not determine a constructor"),
    ("python-name-tag", b"!!python/name:os.system\n", "not valid YAML"),
    ("binary-tag-row", BASE_TEXT.replace("row: bad-input battery", "row: !!binary aGVsbG8=").encode(),
     "row: expected a string"),
    ("date-row", BASE_TEXT.replace("row: bad-input battery", "row: 2020-01-01").encode(), "row: expected a string"),
    ("huge-file", (BASE_TEXT + "notes: " + "x" * (1 << 20) + "\n").encode(), "larger than 1,048,576 bytes"),
    ("duplicate-anchor", b"x: &x 1\ny: &x 2\n", "not valid YAML: found duplicate anchor 'x'; first occurrence"),
]


@pytest.mark.parametrize(("name", "content", "phrase"), TEXTS, ids=[t[0] for t in TEXTS])
def test_spec_file_that_is_not_a_spec(env: Env, name: str, content: bytes, phrase: str) -> None:
    path = env.spec_file(name, content)
    before = _snapshot(env.results)
    res = _invoke("run", path, *SMOKE)
    _check_clean(res, 2, phrase, before, env)
    assert len(res.output) < 2000


# --------------------------------------------------------------------------- command lines
FLAG = "Invalid value for '{}'"
ARGS: list[tuple[str, list[str], int, str]] = [
    ("profile-typo", ["run", "bad-base", "--profile", "ful"], 2, FLAG.format("--profile")),
    ("profile-case", ["run", "bad-base", "--profile", "FULL"], 2, FLAG.format("--profile")),
    ("show-profile", ["show", "bad-base", "--profile", "tiny"], 2, FLAG.format("--profile")),
    ("reproduce-profile", ["reproduce", "--all", "--profile", "nope"], 2, FLAG.format("--profile")),
    ("device-tpu", ["run", "bad-base", "--device", "tpu"], 2, FLAG.format("--device")),
    ("device-cuda-99", ["run", "bad-base", "--device", "cuda:99"], 2, FLAG.format("--device")),
    ("device-empty", ["run", "bad-base", "--device", ""], 2, FLAG.format("--device")),
    ("bench-device", ["bench", "--device", "gpu"], 2, FLAG.format("--device")),
    ("reproduce-device", ["reproduce", "--all", "--device", "tpu"], 2, FLAG.format("--device")),
    ("cost-device", ["cost", "--device", "tpu"], 2, FLAG.format("--device")),
    ("executor-typo", ["reproduce", "--all", "--executor", "slurmm"], 2, FLAG.format("--executor")),
    ("table-format", ["table", "rsn", "--format", "xls"], 2, FLAG.format("--format")),
    ("list-format", ["list", "--format", "yaml"], 2, FLAG.format("--format")),
    ("data-check-format", ["data", "check", "--format", "html"], 2, FLAG.format("--format")),
    ("seeds-zero", ["run", "bad-base", "--seeds", "0"], 2, FLAG.format("--seeds")),
    ("seeds-negative", ["run", "bad-base", "--seeds", "-1"], 2, FLAG.format("--seeds")),
    ("seeds-huge", ["run", "bad-base", "--seeds", "5000"], 2, FLAG.format("--seeds")),
    ("seed-negative", ["run", "bad-base", "--seed", "-1"], 2, FLAG.format("--seed")),
    ("seed-huge", ["run", "bad-base", "--seed", str(2**64)], 2, FLAG.format("--seed")),
    ("seed-text", ["run", "bad-base", "--seed", "abc"], 2, FLAG.format("--seed")),
    ("epochs-zero", ["run", "bad-base", "--epochs", "0"], 2, FLAG.format("--epochs")),
    ("epochs-negative", ["run", "bad-base", "--epochs", "-2"], 2, FLAG.format("--epochs")),
    ("reproduce-seeds-zero", ["reproduce", "--all", "--seeds", "0"], 2, FLAG.format("--seeds")),
    ("jobs-zero", ["reproduce", "--all", "--executor", "local", "--jobs", "0"], 2, FLAG.format("--jobs")),
    ("timeout-zero", ["reproduce", "--all", "--timeout-min", "0"], 2, FLAG.format("--timeout-min")),
    ("data-root-file", ["run", "bad-base", "--data-root", "{file}"], 2, FLAG.format("--data-root")),
    ("results-file", ["run", "bad-base", "--results", "{file}"], 2, FLAG.format("--results")),
    ("check-data-root-file", ["data", "check", "--data-root", "{file}"], 2, FLAG.format("--data-root")),
    ("reproduce-data-root-file", ["reproduce", "--all", "--data-root", "{file}"], 2, FLAG.format("--data-root")),
    ("set-no-equals", ["run", "bad-base", "--set", "train.epochs"], 2, "--set: train.epochs: expected key.sub=value"),
    ("set-empty-key", ["run", "bad-base", "--set", "=3"], 2, "--set: =3: empty key"),
    ("set-bad-yaml", ["run", "bad-base", "--set", "train.epochs=["], 2, "--set: train.epochs: not valid YAML"),
    ("set-alias", ["run", "bad-base", "--set", "notes=*ref"], 2, "--set: notes: not valid YAML: aliases"),
    ("set-too-deep", ["run", "bad-base", "--set", "model.params.x=" + "[" * 50 + "]" * 50], 2, "nested more than"),
    ("set-epochs-zero", ["run", "bad-base", "--set", "train.epochs=0"], 2, "train.epochs: expected a positive"),
    ("set-lr-1e999", ["run", "bad-base", "--set", "optimizer.lr=1e999"], 2, "optimizer.lr: expected a finite"),
    ("set-lr-nan", ["run", "bad-base", "--set", "optimizer.lr=.nan"], 2, "optimizer.lr: expected a finite"),
    ("set-t0-zero", ["run", "bad-base", "--set", "schedule.name=cosine_restarts", "--set", "schedule.t0=0"], 2,
     "schedule.t0: expected a positive"),
    ("set-grad-clip", ["run", "bad-base", "--set", "train.grad_clip=-1"], 2, "train.grad_clip: expected a positive"),
    ("set-workers", ["run", "bad-base", "--set", "train.num_workers=-1"], 2, "train.num_workers: expected 0"),
    ("set-betas", ["run", "bad-base", "--set", "optimizer.betas=[2, 0]"], 2, "optimizer.betas: expected two"),
    ("set-id-dotdot", ["run", "bad-base", "--set", "id=../../x"], 2, SLUG),
    ("set-id-absolute", ["run", "bad-base", "--set", "id=/tmp/x"], 2, SLUG),
    ("set-id-empty", ["run", "bad-base", "--set", "id="], 2, "id: expected a string, got None"),
    ("set-id-space", ["run", "bad-base", "--set", "id=a b"], 2, SLUG),
    ("set-train-scalar", ["run", "bad-base", "--set", "train=3"], 2, "train: expected a mapping"),
    ("set-family", ["run", "bad-base", "--set", "model.family=transformer"], 2, "model.family: unknown"),
    ("set-tolerance-inf", ["run", "bad-base", "--set", "tolerance=.inf"], 2, "tolerance: expected a finite"),
    ("set-encoder", ["run", "bad-base", "--set", "encoder.name=latency", "--set", "encoder.params.i_max=0"], 2,
     "encoder.params: latency"),
    ("set-conflict", ["run", "bad-base", "--set", "train=3", "--set", "train.epochs=2"], 2, "conflicts with another"),
    ("unknown-id", ["run", "no-such-spec"], 2, "no-such-spec: unknown spec id"),
    ("close-id", ["run", "bad-bas"], 2, "did you mean bad-base"),
    ("second-id-unknown", ["run", "bad-base", "no-such-spec"], 2, "no-such-spec: unknown spec id"),
    ("missing-file", ["run", "{root}/missing.yaml"], 2, "missing.yaml: no such spec file"),
    ("directory-spec", ["run", "{root}/dir-spec.yaml"], 2, "cannot read spec file"),
    ("show-unknown", ["show", "no-such"], 2, "unknown spec id"),
    ("table-unknown", ["table", "nothing-here"], 2, "no spec has paper, dataset or id 'nothing-here'"),
    ("table-out-under-file", ["table", "rsn", "--out", "{file}/t.md"], 2, "a-file.txt"),
    ("table-out-directory", ["table", "rsn", "--out", "{dir}"], 2, "a-dir: Is a directory"),
    ("reproduce-nothing", ["reproduce"], 2, "say --all or --paper P"),
    ("bench-unknown", ["bench", "nosuchbench", "--device", "cpu"], 2, "nosuchbench"),
    ("mnist-missing", ["run", "bad-mnist", "--device", "cpu"], 2, "train-images-idx3-ubyte.gz (md5 f68b3c2d"),
    ("mnist-truncated", ["run", "bad-mnist", "--device", "cpu", "--data-root", "{mnist-truncated}"], 2,
     "train-images-idx3-ubyte: md5"),
    ("mnist-bad-magic", ["run", "bad-mnist", "--device", "cpu", "--data-root", "{mnist-magic}"], 2,
     "train-images-idx3-ubyte: md5"),
    ("mnist-bad-gz", ["run", "bad-mnist", "--device", "cpu", "--data-root", "{mnist-gz}"], 2,
     "train-images-idx3-ubyte.gz: md5"),
    ("cifar-hostile-batch", ["run", "bad-cifar", "--device", "cpu", "--data-root", "{cifar}"], 2,
     "data_batch_1: md5"),
    ("auslan-hostile-archive", ["run", "bad-auslan", "--device", "cpu", "--data-root", "{auslan}"], 2,
     "escaped-by-auslan.tsd' refused: its path leaves the destination folder"),
]


@pytest.mark.parametrize(("name", "args", "code", "phrase"), ARGS, ids=[a[0] for a in ARGS])
def test_bad_command_line(env: Env, name: str, args: list[str], code: int, phrase: str) -> None:
    subs = {"file": env.file, "dir": env.dir, "root": env.root, **env.data}
    argv = [a.format(**subs) if "{" in a and not a.startswith(("model.params", "[")) else a for a in args]
    before = _snapshot(env.results)
    res = _invoke(*argv)
    _check_clean(res, code, phrase, before, env)
    assert not (env.root / "pwned-by-cifar").exists() and not list(env.root.rglob("escaped-by-auslan.tsd"))


def test_table_out_into_a_read_only_folder(env: Env, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    target = ro / "t.md"
    if os.access(ro, os.W_OK):  # root ignores permission bits: sysfs refuses new files even to root
        target = Path("/sys/snnrepro-table.md")
        try:
            target.write_text("probe")
        except OSError:
            pass
        else:
            target.unlink()
            pytest.skip("no folder refuses writes here")
    before = _snapshot(env.results)
    res = _invoke("table", "rsn", "--out", target)
    _check_clean(res, 2, "Permission denied", before, env)
    assert str(target) in res.output


def test_mnist_labels_out_of_range(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from snnrepro.data.vision import vision

    monkeypatch.setitem(vision.KNOWN_MD5, "mnist", {})  # past the md5 check: the content checks still hold
    before = _snapshot(env.results)
    res = _invoke("run", "bad-mnist", "--device", "cpu", "--data-root", env.data["mnist-labels"])
    _check_clean(res, 2, "labels outside 0..9", before, env)
    for damage, phrase in (("truncated", "truncated or padded"), ("magic", "bad magic number 1f8b0800"),
                           ("gz", "not a complete gzip file")):
        res = _invoke("run", "bad-mnist", "--device", "cpu", "--data-root", env.data[f"mnist-{damage}"])
        _check_clean(res, 2, phrase, before, env)


# --------------------------------------------------------------------------- faults: nothing lost
def _rec(env: Env, seed: int = 0, profile: str = "smoke"):
    return read_record(record_path(env.results, "bad-base", profile, seed))


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith((".tmp", ".part"))]


def test_hostile_checkpoint_is_refused_on_resume(env: Env) -> None:
    ck = checkpoint_path(env.results, "bad-base", "smoke", 7)
    buf = io.BytesIO()
    torch.save({"epoch": 0, "spec_hash": "x", "payload": _Touch(env.root / "pwned-by-checkpoint")}, buf)
    ck.parent.mkdir(parents=True, exist_ok=True)
    ck.write_bytes(buf.getvalue())
    ck.with_suffix(".sha256").write_text(hashlib.sha256(buf.getvalue()).hexdigest())
    before = _snapshot(env.results)
    res = _invoke("run", "bad-base", *SMOKE, "--seed", "7", "--resume")
    _check_clean(res, 2, "refused to load: it holds objects other than tensors", before, env)
    assert not (env.root / "pwned-by-checkpoint").exists()
    for p in (ck, ck.with_suffix(".sha256")):
        p.unlink()


def test_corrupt_checkpoint_falls_back_with_a_visible_line(env: Env) -> None:
    assert _invoke("run", "bad-base", "--device", "cpu", "--profile", "quick", "--seed", "3", "--epochs", "2",
                   "--set", "train.train_subset=64", "--keep-checkpoints", "all").exit_code == 0
    ck = checkpoint_path(env.results, "bad-base", "quick", 3)
    ck.write_bytes(ck.read_bytes()[:100])
    res = _invoke("run", "bad-base", "--device", "cpu", "--profile", "quick", "--seed", "3", "--epochs", "3",
                  "--set", "train.train_subset=64", "--resume")
    assert res.exit_code == 2 and "different spec" in res.output  # the budget changed: refused, clearly
    res = _invoke("run", "bad-base", "--device", "cpu", "--profile", "quick", "--seed", "3", "--epochs", "2",
                  "--set", "train.train_subset=64", "--resume")
    assert res.exit_code == 0, res.output
    line = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert len(line) == 1 and "checksum mismatch" in line[0] and "resumed from the previous checkpoint" in line[0]
    assert _rec(env, 3, "quick").metrics["resumed_from_epoch"] == 0


def test_crash_mid_run_writes_failed_and_keeps_the_previous_record(env: Env, monkeypatch) -> None:
    from snnrepro.engine import fit as engine_fit

    good = _rec(env)
    assert good is not None and good.status == "ok"

    def boom(model: Any, epoch: int, epochs: int) -> None:
        raise RuntimeError("simulated bug in a model hook")

    monkeypatch.setattr(engine_fit, "_epoch_hook", boom)
    res = _invoke("run", "bad-base", *SMOKE, "--seed", "0")
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert [ln for ln in res.output.splitlines() if ln.startswith("failed:")] == [
        "failed: bad-base seed 0: RuntimeError: simulated bug in a model hook"
    ]
    now = _rec(env)
    assert now.status == "failed" and "simulated bug" in now.error and now.finished_at
    kept = read_record(previous_path(env.results, "bad-base", "smoke", 0))
    assert kept is not None and kept.status == "ok" and kept.started_at == good.started_at
    assert not lock_path(env.results, "bad-base", "smoke", 0).exists()
    monkeypatch.undo()
    assert _invoke("run", "bad-base", *SMOKE, "--seed", "0").exit_code == 0  # and a good run replaces it again
    assert _rec(env).status == "ok"
    assert read_record(previous_path(env.results, "bad-base", "smoke", 0)).status == "failed"


@pytest.mark.parametrize("persistent", [False, True], ids=["transient", "persistent"])
def test_disk_full_is_one_line_no_temp_files_and_the_old_record_kept(env: Env, monkeypatch, persistent) -> None:
    from snnrepro import io as safe_io

    assert _invoke("run", "bad-base", *SMOKE, "--seed", "5").exit_code == 0
    good = _rec(env, 5)
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd: int) -> None:  # the running record is written, then the disk is full (once, or for good)
        calls["n"] += 1
        if calls["n"] == 2 or (persistent and calls["n"] > 2):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(safe_io.os, "fsync", fsync)
    res = _invoke("run", "bad-base", *SMOKE, "--seed", "5")
    monkeypatch.undo()
    failed = [ln for ln in res.output.splitlines() if ln.startswith("failed:")]
    assert res.exit_code == 1 and "Traceback" not in res.output and len(failed) == 1
    assert "disk full (no space left on device writing" in failed[0] and "seed-5.pt" in failed[0]
    assert _no_temp_files(env.results)
    kept = read_record(previous_path(env.results, "bad-base", "smoke", 5))
    assert kept is not None and kept.status == "ok" and kept.started_at == good.started_at
    on_disk = _rec(env, 5)
    assert on_disk.status == ("running" if persistent else "failed")  # the final status where it could be written
    assert not lock_path(env.results, "bad-base", "smoke", 5).exists()


def test_a_second_concurrent_run_is_refused(env: Env) -> None:
    before = _snapshot(env.results)
    lock = RunLock(lock_path(env.results, "bad-base", "smoke", 0)).acquire()
    try:
        res = _invoke("run", "bad-base", *SMOKE, "--seed", "0", "--set", "optimizer.lr=0.02")
    finally:
        lock.release()
    assert res.exit_code == 2 and "Traceback" not in res.output
    line = [ln for ln in res.output.splitlines() if "is already being run by pid" in ln]
    assert len(line) == 1 and "seed-0" in line[0] and "wait for it to finish" in line[0]
    assert _snapshot(env.results) == before


def test_a_killed_runs_record_and_lock_do_not_block_the_next_run(env: Env) -> None:
    """kill -9 leaves a record saying running and a lock file nobody holds: the next run proceeds."""
    rec = _rec(env)
    path = record_path(env.results, "bad-base", "smoke", 0)
    running = {**rec.to_json(), "status": "running", "finished_at": ""}
    path.write_text(json.dumps(running))
    lock_path(env.results, "bad-base", "smoke", 0).write_text("pid 1 on nowhere since long ago")
    res = _invoke("run", "bad-base", *SMOKE, "--seed", "0")
    assert res.exit_code == 0, res.output
    assert _rec(env).status == "ok"
    assert read_record(previous_path(env.results, "bad-base", "smoke", 0)).status != "running"  # not kept aside


def test_failing_analysis_ends_failed_not_ok(env: Env, monkeypatch) -> None:
    from snnrepro.registry import ANALYSES

    def broken(model, loader, device, out_dir, **params):
        raise ValueError("analysis blew up")

    ANALYSES.get("silent_neurons")  # registries fill on first use
    monkeypatch.setitem(ANALYSES._table, "silent_neurons", broken)
    res = _invoke("run", "bad-base", *SMOKE, "--seed", "9", "--set", "analyses=[{name: silent_neurons}]")
    assert res.exit_code == 1, res.output
    assert "failed: bad-base seed 9: analysis silent_neurons: ValueError: analysis blew up" in res.output
    rec = _rec(env, 9)
    assert rec.status == "failed" and rec.epochs == 1 and "analysis blew up" in rec.error


def test_corrupt_feature_cache_is_rebuilt(tmp_path: Path, monkeypatch, capsys) -> None:
    from scipy.io import wavfile

    from snnrepro.registry import DATASETS

    monkeypatch.setenv("SNNREPRO_CACHE", str(tmp_path / "cache"))
    rec = tmp_path / "FSDD" / "recordings"
    rec.mkdir(parents=True)
    t = np.arange(2000) / 8000
    for digit in range(10):
        for idx in (0, 5):
            wavfile.write(rec / f"{digit}_x_{idx}.wav", 8000, (3000 * np.sin(2 * np.pi * (200 + 50 * digit) * t))
                          .astype(np.int16))
    src = DATASETS.get("fsdd")
    first = src.load(tmp_path, download=False)
    assert "20 wav files" in capsys.readouterr().err  # the count check: no md5 is published for FSDD
    caches = sorted((tmp_path / "cache" / "features" / "fsdd").glob("*.pt"))
    assert len(caches) == 2
    caches[0].write_bytes(caches[0].read_bytes()[:50])  # truncated
    buf = io.BytesIO()
    torch.save({"x": _Touch(tmp_path / "pwned-by-cache"), "y": 1}, buf)
    caches[1].write_bytes(buf.getvalue())  # hostile
    again = src.load(tmp_path, download=False)
    err = capsys.readouterr().err
    assert err.count("is damaged") == 2 and "rebuilding it" in err and not (tmp_path / "pwned-by-cache").exists()
    assert torch.equal(first.train.tensors[0], again.train.tensors[0])
    assert torch.equal(first.test.tensors[0], again.test.tensors[0])


def test_corrupt_frame_cache_is_rebuilt(tmp_path: Path, capsys) -> None:
    from snnrepro.data.events.event_frames import EventFrames, FrameSpec

    def reader(path: Path):
        rng = np.random.default_rng(0)
        n = 500
        return (rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n), np.sort(rng.integers(0, 10**5,
                                                                                                            n)))

    spec = FrameSpec(T=4, split_by="count", sensor=(34, 34))
    ds = EventFrames("t", [(tmp_path / "a.bin", 0)], reader, spec, tmp_path / "cache", tmp_path)
    first = ds.frames(0)
    cp = ds.cache_path(0)
    cp.write_bytes(cp.read_bytes()[:60])
    again = ds.frames(0)
    assert "frame cache" in capsys.readouterr().err and torch.equal(first, again)
    np.save(cp, np.zeros(3, np.int64))  # a foreign array
    assert torch.equal(ds.frames(0), first) and "is damaged" in capsys.readouterr().err


# --------------------------------------------------------------------------- hypothesis: generated bad specs
VALUES = (st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=True, allow_infinity=True)
          | st.text(max_size=20) | st.lists(st.integers(-3, 3), max_size=3)
          | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_specs_end_cleanly(env: Env, data: st.DataObject) -> None:
    raw = copy.deepcopy(BASE)
    raw["train"]["epochs"] = 1
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(raw)[1:]))
        node = raw
        for key in path[:-1]:
            node = node[key]
        if data.draw(st.booleans()):
            node[path[-1]] = data.draw(VALUES)
        elif isinstance(node, dict):
            node[data.draw(st.sampled_from(["epochs", "lr", "T", "bogus", "t0", "params", "id"]))] = data.draw(VALUES)
    try:
        text = yaml.safe_dump(raw, allow_unicode=True).encode()
    except yaml.YAMLError:
        return
    path = env.spec_file("generated", text)
    before = _snapshot(env.results)
    res = _invoke("run", path, *SMOKE, "--seed", "11")
    assert "Traceback" not in res.output
    assert res.exit_code in (0, 1, 2), res.output
    if res.exit_code == 2:
        errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and str(path) in errors[0] and len(errors[0]) < 700, res.output
        assert _snapshot(env.results) == before
    else:  # a valid mutation ran: its record ends with a status
        rec = read_record(record_path(env.results, str(raw["id"]), "smoke", 11))  # `id: 0` loads as "0"
        assert rec is not None and rec.status in ("ok", "diverged", "failed"), res.output


# --------------------------------------------------------------------------- disk use: checkpoints kept, full disk
@pytest.mark.parametrize(("keep", "left"), [("all", 4), ("last", 2), ("none", 0)])
def test_keep_checkpoints_prunes_a_finished_runs_files(env: Env, keep: str, left: int) -> None:
    seed = {"all": 11, "last": 12, "none": 13}[keep]
    res = _invoke("run", "bad-base", *SMOKE, "--seed", str(seed), "--epochs", "2", "--keep-checkpoints", keep)
    assert res.exit_code == 0, res.output
    ck = checkpoint_path(env.results, "bad-base", "smoke", seed)
    files = sorted(p.name for p in ck.parent.glob(f"seed-{seed}.*"))
    assert len(files) == left, files
    assert (ck.exists(), ck.with_suffix(".prev.pt").exists()) == {"all": (True, True), "last": (True, False),
                                                                   "none": (False, False)}[keep]
    assert _rec(env, seed).status == "ok"


def test_unknown_keep_checkpoints_value_is_refused_before_anything_runs(env: Env) -> None:
    before = _snapshot(env.results)
    res = _invoke("run", "bad-base", *SMOKE, "--seed", "14", "--keep-checkpoints", "some")
    assert res.exit_code == 2 and "'some' is not one of" in res.output
    assert _snapshot(env.results) == before


def test_disk_full_while_writing_tables_is_one_line_not_a_traceback(env: Env, monkeypatch) -> None:
    from snnrepro.results import tables

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device", str(env.results / "tables"))

    monkeypatch.setattr(tables, "rebuild_all", full)
    res = _invoke("reproduce", "--all", "--no-run")
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert "disk full (no space left on device writing" in res.output and "tables" in res.output
