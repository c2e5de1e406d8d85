"""Failed sign-ins counted per user name and per client address, in a sliding window.

In-process and thread-safe: each worker process counts on its own, so with W workers behind a
round-robin proxy an attacker gets up to W times the limit before every worker refuses. That still
bounds guessing to a few hundred tries a minute per name; a shared store is not worth its cost here.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from trustlab.platform.errors import TooManyRequests

MAX_FAILURES = 10
WINDOW_S = 60.0
# Above this many tracked names/addresses, keys whose failures all left the window are dropped, so
# a flood of random user names cannot grow memory without bound.
PRUNE_ABOVE = 10_000


class LoginThrottle:
    """Refuses sign-ins for a name or an address with ``limit`` failures in the last ``window_s``.

    ``check`` before the password is verified (a refused attempt costs no scrypt), ``failure`` after
    a wrong password, ``success`` after a right one: that clears the *name's* count only, so one
    valid account does not unlock guessing at others from the same address.
    """

    def __init__(
        self,
        *,
        limit: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"limit must be >= 1 and window_s > 0 (got {limit}, {window_s})")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}

    @staticmethod
    def _keys(name: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("name", name.strip().casefold())]
        if address:
            keys.append(("address", address))
        return keys

    def check(self, name: str, address: str | None) -> None:
        """Raise TooManyRequests (with seconds to wait) when the name or the address is locked out."""
        now = self._clock()
        with self._lock:
            waits = [self._wait(self._failures.get(key), now) for key in self._keys(name, address)]
        wait = max(waits)
        if wait > 0:
            raise TooManyRequests(
                f"too many failed sign-ins for this user name or from this address; "
                f"try again in {math.ceil(wait)} seconds",
                retry_after=math.ceil(wait),
            )

    def failure(self, name: str, address: str | None) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) > PRUNE_ABOVE:
                self._prune(now)
            for key in self._keys(name, address):
                self._failures.setdefault(key, deque(maxlen=self.limit)).append(now)

    def success(self, name: str, address: str | None) -> None:
        with self._lock:
            self._failures.pop(self._keys(name, None)[0], None)

    def _wait(self, times: deque[float] | None, now: float) -> float:
        """Seconds until the oldest of ``limit`` recent failures leaves the window (0: not locked)."""
        if times is None or len(times) < self.limit:
            return 0.0
        return max(0.0, times[0] + self.window_s - now)

    def _prune(self, now: float) -> None:
        stale = [key for key, times in self._failures.items() if times[-1] + self.window_s <= now]
        for key in stale:
            del self._failures[key]
