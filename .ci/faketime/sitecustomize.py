"""Loaded by every Python process of .ci/run's faketime passes (PYTHONPATH), tests and the
crmbot processes they start alike.

libfaketime 0.9.10 (Debian's) with FAKETIME_DONT_FAKE_MONOTONIC=1 refuses a sleep until a
moment on the monotonic clock (`clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`, EINVAL):
it shifts that moment as if the monotonic clock were faked too. CPython's `time.sleep` sleeps
exactly so, and subprocess waits and prompt_toolkit's output thread call it. Faking the
monotonic clock instead hangs every timed wait of a thread (Python hands the faked deadline
to `sem_clockwait`, which libfaketime lets through to the kernel's real clock). So here
`time.sleep` waits in `select`, whose timeout is relative and passes through untouched.
Nothing else changes: the wall clock is still the faked one.
"""

from __future__ import annotations

import select
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


time.sleep = _sleep
