"""Failed guesses of a secret (an invite code) per sender: after `limit` wrong ones in
`window`, further tries are refused until the oldest has aged out.

Kept in the process, by the dispatcher: several processes each keep their own, so a
sender spread over N processes gets N times the limit, still nothing like the thousands
of guesses a second the unthrottled command answered.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

Sender = tuple[str, str, str]  # platform, workspace, user


@dataclass
class Guesses:
    limit: int = 5
    window: timedelta = timedelta(minutes=15)
    _failed: dict[Sender, deque[datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, sender: Sender, now: datetime) -> timedelta | None:
        """How long `sender` must wait before guessing again; None: they may now."""
        with self._lock:
            failed = self._failed.get(sender)
            if failed is None:
                return None
            while failed and failed[0] <= now - self.window:
                failed.popleft()
            if not failed:
                del self._failed[sender]
                return None
            return failed[0] + self.window - now if len(failed) >= self.limit else None

    def failed(self, sender: Sender, now: datetime) -> None:
        with self._lock:
            self._failed.setdefault(sender, deque()).append(now)
