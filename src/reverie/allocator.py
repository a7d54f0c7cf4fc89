"""CPU memory kept between the steps of a task, and given back when the task ends.

glibc's malloc serves a large allocation with ``mmap`` once it is above a threshold, and returns the
top of its heap to the system whenever more than another threshold of it is free; both thresholds
start small and move as memory is freed. A render step allocates and frees the same few hundred
megabytes of activations and gradients every step, so with glibc's defaults the memory of every step
is faulted in afresh: measured at 224 px, batch 1, 2 threads, 1,600-11,000 minor page faults a step,
growing as the render goes on, and up to 30 % of the time of a 128-step render (batch 8: 50,000-110,000
a step, up to 35 %); ``bench/allocator.py`` prints the figures. While a task runs, both thresholds are raised
so that freed memory stays in the process for the next step; a second after the last running task
ends they go back to glibc's starting values and ``malloc_trim`` returns what is free, so an idle
studio or notebook does not keep a render's peak.
The peak itself does not grow: it is the memory one step needs either way (see MMAP_THRESHOLD).

Only glibc has these settings. Elsewhere (macOS, Windows, musl) this does nothing, and
``REVERIE_ALLOCATOR=system`` leaves glibc's own behaviour alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
# Allocations up to this size come from the heap: every tensor of a 224 px render step, batch 1 to 8 but
# the largest of batch 8; bigger ones (whole 2048 px images, tiles' widest activations) are mapped and
# unmapped as they come and go, which keeps a tiled dream's peak where glibc's defaults have it
# (2048 px: 0.85 GB; 0.98 GB with every allocation on the heap, bench/tiled_memory.py).
MMAP_THRESHOLD = 32 << 20
# Free memory at the top of the heap up to this size is kept while a task runs.
TRIM_THRESHOLD = 256 << 20
DEFAULT_THRESHOLD = 128 << 10  # glibc's starting value of both, restored between tasks

_lock = threading.Lock()
_running = 0
_libc: ctypes.CDLL | None = None
_configured = False
_pending: threading.Timer | None = None  # the give-back after the last task, until it runs or a task starts
GIVE_BACK_AFTER = 1.0  # seconds without a running task


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc and may be tuned, else None."""
    if not sys.platform.startswith("linux") or os.environ.get("REVERIE_ALLOCATOR", "") == "system":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it; musl's mallopt does nothing
        libc.mallopt, libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


@contextmanager
def memory_kept() -> Iterator[None]:
    """Run the block (a task, or one render) with freed memory kept for reuse; give it back after.

    Tasks may nest and run in several threads at once. Memory is given back once none has run for
    ``GIVE_BACK_AFTER`` seconds: giving it back takes tens of milliseconds and the next task would fault
    it in again, so back-to-back calls (animation frames, a benchmark's repeats, a notebook loop) keep it.
    """
    global _running, _libc, _configured, _pending
    with _lock:
        if not _configured:
            _configured = True
            _libc = _glibc()
        if _pending is not None:
            _pending.cancel()
            _pending = None
        if _running == 0 and _libc is not None:
            # Setting either stops glibc moving them; the pair works only together (measured: either alone
            # leaves most of the faults).
            _libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            _libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _libc is not None:
                _pending = threading.Timer(GIVE_BACK_AFTER, _give_back)
                _pending.daemon = True
                _pending.start()


def _give_back() -> None:
    """glibc's own thresholds again, and the free memory returned to the system, unless a task started."""
    global _pending
    with _lock:
        if _running == 0 and _libc is not None and _pending is not None:
            _pending = None
            _libc.mallopt(M_MMAP_THRESHOLD, DEFAULT_THRESHOLD)
            _libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_THRESHOLD)
            _libc.malloc_trim(0)


__all__ = ["memory_kept"]
