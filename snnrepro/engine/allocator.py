"""Faster CPU runs by default: keep freed tensor memory in the glibc heap instead of returning it.

Training loops allocate and free the same large buffers every step.  glibc serves blocks above
``M_MMAP_THRESHOLD`` by ``mmap`` and gives them back by ``munmap``, and trims the heap top above
``M_TRIM_THRESHOLD``, so every step pays page faults for memory it just released.  ``make bench`` has
always run with ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736`` (docs/performance.md);
this module applies the same setting to every ``snnrepro`` process on Linux/glibc through
``mallopt`` at start-up: ``M_MMAP_MAX = 0`` (no mmap-served blocks) and ``M_TRIM_THRESHOLD = 2^31 - 1``
(mallopt takes an int; 2 GiB of free heap top before trimming is "never" for these runs).

The cost is resident memory: freed blocks stay mapped for reuse, so the peak of a run stays resident
until it exits.  Opt out with ``SNNREPRO_MALLOC=default`` (or by setting either glibc variable
yourself, which then wins: glibc reads them before Python starts).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD = 2**31 - 1

#: whether :func:`tune_glibc_malloc` changed this process's allocator (benchmark reports print it)
APPLIED = False


def tune_glibc_malloc() -> bool:
    """Apply the bench's allocator setting to this process; ``True`` when it was applied."""
    if os.environ.get("SNNREPRO_MALLOC", "").lower() in ("default", "off", "0", "no"):
        return False
    if "MALLOC_MMAP_MAX_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False  # the user's own glibc setting, already in force
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    global APPLIED
    APPLIED = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return APPLIED
