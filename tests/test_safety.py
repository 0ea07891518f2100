"""Nothing gets in: checkpoints that would run code, archives that would write outside their folder, path ids."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch

from snnrepro.data.fetch import UnsafeArchive, extract_once, safe_extract
from snnrepro.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from snnrepro.engine.seeding import rng_state, seed_everything, set_rng_state


# --------------------------------------------------------------------------- checkpoints
class _Touch:
    """Unpickling this creates a file: what a hostile checkpoint would do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _plant(path: Path, state: object) -> None:
    """A checkpoint with a valid checksum (anyone can recompute it) around ``state``."""
    buf = io.BytesIO()
    torch.save(state, buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    path.with_suffix(".sha256").write_text(hashlib.sha256(buf.getvalue()).hexdigest())


def test_checkpoint_whose_pickle_would_create_a_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "pwned"
    ck = tmp_path / "ckpt" / "seed-0.pt"
    _plant(ck, {"model": {}, "epoch": 0, "payload": _Touch(victim)})
    with pytest.raises(CheckpointError, match="refused to load.*tensors and plain data"):
        load_checkpoint(ck)
    assert not victim.exists()


def test_hostile_newest_checkpoint_falls_back_to_the_previous_good_one(tmp_path: Path) -> None:
    ck = tmp_path / "seed-0.pt"
    save_checkpoint(ck, {"epoch": 0, "w": torch.ones(3)})
    save_checkpoint(ck, {"epoch": 1, "w": torch.ones(3)})
    victim = tmp_path / "pwned"
    _plant(ck, {"epoch": 2, "payload": _Touch(victim)})
    state, warnings = load_checkpoint(ck)
    assert state["epoch"] == 0 and "refused to load" in warnings[0] and not victim.exists()


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    import random

    import numpy as np

    seed_everything(123)
    ck = tmp_path / "seed-0.pt"
    save_checkpoint(ck, {"rng": rng_state()})
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(7)
    state, _ = load_checkpoint(ck)
    set_rng_state(state["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_failed_checkpoint_write_leaves_no_temp_file_and_keeps_the_old_one(tmp_path, monkeypatch) -> None:
    import errno

    from snnrepro import io as safe_io

    ck = tmp_path / "seed-0.pt"
    save_checkpoint(ck, {"epoch": 0})

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safe_io.os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(ck, {"epoch": 1})
    monkeypatch.undo()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    state, warnings = load_checkpoint(ck)
    assert state["epoch"] == 0 and warnings == []


# --------------------------------------------------------------------------- archives
def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return path


def _file(name: str, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _device(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    return info


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


HOSTILE_TARS = {
    "dotdot": [(_file("ok.txt"), b"ok"), (_file("../escaped.txt"), b"x")],
    "nested dotdot": [(_file("a/b/../../../escaped.txt"), b"x")],
    "absolute": [(_file("/tmp/snnrepro-escaped-abs.txt"), b"x")],
    "symlink out": [(_link("link", "../outside"), None)],
    "absolute symlink": [(_link("etc", "/etc"), None)],
    "symlink then write through it": [(_link("sub", ".."), None), (_file("sub/escaped.txt"), b"x")],
    "hard link out": [(_link("hard", "../outside/secret", tarfile.LNKTYPE), None)],
    "device": [(_device("dev-null"), None)],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_hostile_tar_is_refused_and_nothing_is_written(tmp_path: Path, case: str, mode: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    arc = _tar(tmp_path / "evil.tar", HOSTILE_TARS[case], mode)
    dest = tmp_path / "data" / "AUSLAN"
    before = _tree(tmp_path)
    with pytest.raises(UnsafeArchive, match="refused") as info:
        extract_once(arc, dest)
    assert "nothing extracted" in str(info.value) and "\n" not in str(info.value)
    assert _tree(tmp_path) - before <= {"data", "data/AUSLAN"}  # no member, no marker, nothing outside
    assert not Path("/tmp/snnrepro-escaped-abs.txt").exists()


def test_tar_setuid_and_world_writable_bits_are_cleared(tmp_path: Path) -> None:
    arc = _tar(tmp_path / "a.tar.gz", [(_file("bin/tool", 0o6777), b"#!/bin/sh\n"), (_file("plain.txt"), b"1")])
    safe_extract(arc, tmp_path / "out")
    mode = (tmp_path / "out" / "bin" / "tool").stat().st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWOTH | stat.S_IWGRP)
    assert (tmp_path / "out" / "plain.txt").read_text() == "1"


def test_tar_with_inside_links_is_extracted(tmp_path: Path) -> None:
    arc = _tar(tmp_path / "a.tar", [(_file("d/x.txt"), b"x"), (_link("d/y.txt", "x.txt"), None)], "w")
    safe_extract(arc, tmp_path / "out")
    assert (tmp_path / "out" / "d" / "y.txt").read_text() == "x"


def _zip(path: Path, entries: list[tuple[str, bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


HOSTILE_ZIPS = {
    "dotdot": [("../escaped.txt", b"x", 0o100644)],
    "absolute": [("/tmp/snnrepro-escaped-zip.txt", b"x", 0o100644)],
    "windows drive": [("C:/escaped.txt", b"x", 0o100644)],
    "backslash dotdot": [("..\\escaped.txt", b"x", 0o100644)],
    "symlink": [("link", b"/etc/passwd", 0o120777)],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_ZIPS))
def test_hostile_zip_is_refused(tmp_path: Path, case: str) -> None:
    arc = _zip(tmp_path / "evil.zip", [("fine.txt", b"1", 0o100644), *HOSTILE_ZIPS[case]])
    with pytest.raises(UnsafeArchive, match="refused"):
        extract_once(arc, tmp_path / "out")
    assert _tree(tmp_path / "out") == set() and not (tmp_path / "escaped.txt").exists()


def test_zip_with_a_hostile_tar_inside_is_refused_at_the_inner_archive(tmp_path: Path, monkeypatch) -> None:
    """The AUSLAN path: the UCI zip wraps tctodd.tar.gz, which is unpacked too."""
    from snnrepro.data.audio.auslan import ARCHIVE, AuslanSource

    inner = _tar(tmp_path / "tctodd.tar.gz", [(_file("tctodd1/a-1.tsd"), b"1\t" * 21 + b"1\n"),
                                             (_file("../../escaped.tsd"), b"x")])
    root = tmp_path / "data"
    folder = root / "AUSLAN"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / ARCHIVE.name, "w") as zf:
        zf.write(inner, "tctodd.tar.gz")
    with pytest.raises(UnsafeArchive, match="escaped.tsd"):
        AuslanSource().ensure(root, download=False)
    assert not (tmp_path / "escaped.tsd").exists() and not (root / "escaped.tsd").exists()


def test_not_an_archive_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.tar.gz"
    bad.write_bytes(os.urandom(256))
    with pytest.raises(UnsafeArchive, match="not a zip or tar archive"):
        safe_extract(bad, tmp_path / "out")
