"""What a process does with its memory once it has started."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc


def settle() -> None:
    """After start-up: collect the garbage imports and set-up left, keep what now exists (the
    modules, the app) out of later full collections, and hand the freed heap back to the
    operating system. Without the last step glibc keeps freed pages in the process: start-up's
    garbage stayed in every idle service's RSS (bench/RESULTS-idle-rss.md)."""
    gc.collect()
    gc.freeze()
    libc = ctypes.util.find_library("c")
    if libc:
        try:
            ctypes.CDLL(libc).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to hand back
            pass
