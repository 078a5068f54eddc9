"""The window's worker threads, below its GUI thread's priority.

The window reads its tables in worker threads (services/queries.py): after each stage of a sync every tab is
read again, and a count over 390,000 eSIMs keeps a core busy for a few hundred milliseconds. On a 2-core desk two
such threads beside the X server left the GUI thread runnable but waiting: measured at the bench
(bench/views.py, during a sync), a Fleet paint took 8-12 ms of its thread's CPU and 17-25 ms of wall time, once
75 ms, and the window's timer ran up to 50-80 ms late. A worker below the GUI thread's priority still has the CPU
the GUI thread leaves, which is most of it: the GUI thread paints, then waits.

Per thread, as each operating system allows: Linux gives each thread its own niceness (``setpriority`` on the
thread's id); Windows a thread priority; macOS a quality-of-service class ("utility": work the user waits on
without watching it). Where none applies, or it is refused, the thread runs as it was.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

# Linux: niceness added to the window's own (0 → 5): below the GUI thread, above the window's sync child (10 more,
# services/sync_process.py).
WORKER_NICENESS = 5
MOST_NICE = 19  # Linux's lowest priority
_THREAD_PRIORITY_BELOW_NORMAL = -1  # Windows' SetThreadPriority
_QOS_CLASS_UTILITY = 0x11  # macOS' <sys/qos.h>


def lower_this_thread() -> bool:
    """Lower the calling thread's priority below the GUI thread's; whether it was lowered. For a thread pool's
    ``initializer``: it runs in each worker as the worker starts."""
    try:
        if sys.platform.startswith("linux"):
            # Linux: a thread is a task of its own, and its id names it alone (POSIX would say the process).
            me = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, me, min(os.getpriority(os.PRIO_PROCESS, me) + WORKER_NICENESS, MOST_NICE))
            return True
        if sys.platform == "win32":
            kernel32 = ctypes.WinDLL("kernel32")
            # A HANDLE is pointer-wide (the current thread's is the pseudo-handle -2): not ctypes' default int.
            kernel32.GetCurrentThread.restype = ctypes.c_void_p
            kernel32.SetThreadPriority.argtypes = (ctypes.c_void_p, ctypes.c_int)
            return bool(kernel32.SetThreadPriority(kernel32.GetCurrentThread(), _THREAD_PRIORITY_BELOW_NORMAL))
        if sys.platform == "darwin":
            libc = ctypes.CDLL("/usr/lib/libSystem.dylib")
            return libc.pthread_set_qos_class_self_np(_QOS_CLASS_UTILITY, 0) == 0
    except (OSError, AttributeError) as exc:  # not allowed, or not there: the thread keeps its priority
        log.debug("worker thread's priority not lowered: %s", exc)
    return False


def niceness_of_this_thread() -> int | None:
    """The calling thread's niceness where the system keeps one a thread (Linux), else None (tests read it)."""
    if not sys.platform.startswith("linux"):
        return None
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
