"""Keeps freed memory in the process, so that a jitted call does not pay for fresh pages each time.

XLA:CPU allocates a program's buffers (its outputs and one block of temporaries) with the C
library's malloc on every call. glibc serves a block larger than its mmap threshold (128 KiB at
first, rising to at most 32 MiB) with a fresh mmap and unmaps it when freed, so each call pages
its memory in again. That is a per-call cost, paid once per env step by the host-stepped loop
(one call per iteration) and once per chunk by the fused loop: CrossQ's cpu preset, 3 seeds, cost
47.5 ms per iteration called one iteration at a time against 22.7 ms inside a chunk of 100 (its
temporaries are one 33.5 MiB block, above the largest threshold). `retain_freed_memory` makes
glibc serve every block from its heap (no mmap) and keep up to 1 GiB of freed memory instead of
returning it, so a call reuses the pages of the last one; the process's resident memory stays
near its peak. Figures: bench/README.md, "The host loop's iteration".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4  # glibc's mallopt parameters (malloc.h)
TRIM_THRESHOLD = 2**30
"""Freed memory at the top of the heap kept before glibc returns any of it."""
TOP_PAD = 64 * 2**20
"""Extra memory requested whenever the heap grows."""


def retain_freed_memory() -> bool:
    """Sets glibc's malloc as the module's docstring says; True where it did, False on other C
    libraries (macOS, musl), which are left as they are."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    settings = ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_TOP_PAD, TOP_PAD))
    return all(mallopt(parameter, value) == 1 for parameter, value in settings)
