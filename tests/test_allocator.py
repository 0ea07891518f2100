"""The CLI's default glibc allocator setting (the one ``make bench`` uses), and its opt-outs."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from snnrepro.engine import allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_applied_by_default_and_not_when_opted_out(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SNNREPRO_MALLOC", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(var, raising=False)
    assert allocator.tune_glibc_malloc() is True
    monkeypatch.setenv("SNNREPRO_MALLOC", "default")
    assert allocator.tune_glibc_malloc() is False
    monkeypatch.delenv("SNNREPRO_MALLOC")
    monkeypatch.setenv("MALLOC_MMAP_MAX_", "65536")
    assert allocator.tune_glibc_malloc() is False  # the user's own setting wins


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_large_blocks_come_from_the_heap_after_tuning() -> None:
    """With M_MMAP_MAX = 0 a freed 64 MiB block is reused from the heap: its address repeats, and the
    process's mmap count does not grow; glibc's default serves it by mmap (a new mapping each time)."""
    code = (
        "import ctypes, sys\n"
        "from snnrepro.engine.allocator import tune_glibc_malloc\n"
        "if sys.argv[1] == 'tuned': assert tune_glibc_malloc()\n"
        "libc = ctypes.CDLL('libc.so.6'); libc.malloc.restype = ctypes.c_void_p\n"
        "libc.free.argtypes = [ctypes.c_void_p]\n"
        "def maps(): return sum(1 for _ in open('/proc/self/maps'))\n"
        "before = maps(); p = libc.malloc(64 << 20); during = maps(); libc.free(p)\n"
        "print(during - before)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "SNNREPRO_MALLOC": ""}
    tuned = subprocess.run([sys.executable, "-c", code, "tuned"], capture_output=True, text=True, env=env, check=True)
    plain = subprocess.run([sys.executable, "-c", code, "plain"], capture_output=True, text=True, env=env, check=True)
    assert int(plain.stdout) >= 1  # glibc's default: a new mapping for the big block
    assert int(tuned.stdout) == 0  # tuned: served from the (grown) heap, no new mapping


def test_allocator_bench_compares_the_cli_default_with_glibc_defaults(monkeypatch) -> None:
    """The bench's child runs the CLI start-up (mallopt applied) unless opted out; rows carry the ratio."""
    import platform

    import torch

    from snnrepro.benches import allocator as bench

    calls: list[str | None] = []

    def fake_child(env_malloc: str | None, steps: int) -> dict:
        calls.append(env_malloc)
        return {"applied": env_malloc is None, "ms": 30.0 if env_malloc is None else 40.0}

    monkeypatch.setattr(bench, "_child", fake_child)
    rows = bench.run(torch.device("cpu"), quick=False)
    assert calls == ["default", None] * bench.ROUNDS  # alternating child processes
    assert rows[0].ms_per_step == 40.0 and rows[1].ms_per_step == 30.0
    assert rows[1].ratio == 0.75 and rows[1].reference == "glibc defaults"
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        monkeypatch.undo()
        assert bench._child(None, 1)["applied"] is True
        assert bench._child("default", 1)["applied"] is False
