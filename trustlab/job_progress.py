"""Progress of long jobs: a tqdm bar in a terminal, a few timestamped lines in a log file.

Every long loop in trustlab goes through :func:`progress` (and its one-line messages through
:func:`note`), so that a job whose stderr is a terminal shows live bars, while the same job in a Slurm
log or behind ``2> file`` writes one line per ``log_every`` share of the work (10 % by default) instead
of thousands of ``\\r`` updates. Torch-free: the data, models, explain and platform packages all use it.

The mode comes from, in order: :func:`set_mode` (the CLI's ``--quiet``/``--verbose``), the environment
variable ``TRUSTLAB_PROGRESS`` (``bar``, ``log`` or ``off``), else ``bar`` when stderr is a terminal and
``log`` when it is not.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, TextIO

from tqdm.auto import tqdm

from trustlab.wording import counted

ENV_VAR = "TRUSTLAB_PROGRESS"
MODES = ("bar", "log", "off")
# Off a terminal: one line each time this share of the total is passed (0.1: at 10 %, 20 %, ...).
DEFAULT_LOG_EVERY = 0.1
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

_forced_mode: str | None = None


def set_mode(mode: str | None) -> None:
    """Force ``bar``, ``log`` or ``off`` for this process (None: decide from the environment)."""
    global _forced_mode
    if mode is not None and mode not in MODES:
        raise ValueError(f"progress mode {mode!r} is not one of {', '.join(MODES)}")
    _forced_mode = mode


def current_mode(stream: TextIO | None = None) -> str:
    """``bar``, ``log`` or ``off``: how progress is shown now (see the module docstring)."""
    if _forced_mode is not None:
        return _forced_mode
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env in MODES:
        return env
    stream = stream or sys.stderr
    try:
        return "bar" if stream.isatty() else "log"
    except (AttributeError, ValueError):  # a closed or unusual stream
        return "log"


def _stamp() -> str:
    return datetime.now().strftime(TIME_FORMAT)


def note(message: str) -> None:
    """One progress message (an epoch's losses, a decision worth knowing): above the bars in a terminal,
    a timestamped line on stderr in a log, nothing when progress is off."""
    mode = current_mode()
    if mode == "off":
        return
    if mode == "bar":
        tqdm.write(message, file=sys.stderr)
    else:
        print(f"{_stamp()} {message}", file=sys.stderr, flush=True)


class LogProgress:
    """tqdm's small interface (update, set_postfix, close, iteration, ``with``) writing a timestamped
    line to stderr each time another ``log_every`` share of ``total`` is done, and one at the end.

    log_every None: no lines at all (a transient inner bar, e.g. the batches of one epoch)."""

    def __init__(self, iterable: Iterable[Any] | None, *, total: int | None, desc: str, unit: str,
                 log_every: float | None) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total = total
        self.desc = desc
        self.unit = unit
        self.log_every = log_every
        self.n = 0
        self._postfix = ""
        self._started = time.perf_counter()
        self._last_step = 0
        self._closed = False

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("LogProgress was made without an iterable")
        try:
            for value in self.iterable:
                yield value
                self.update(1)
        finally:
            self.close()

    def set_postfix(self, **values: Any) -> None:
        self._postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def set_description(self, desc: str) -> None:
        self.desc = desc

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.log_every is None or not self.total:
            return
        step = int(self.n / self.total / self.log_every + 1e-9)
        if step > self._last_step and self.n < self.total:
            self._last_step = step
            self._line()

    def _line(self, done: bool = False) -> None:
        seconds = time.perf_counter() - self._started
        if self.total:
            share = f"{100 * self.n / self.total:.0f}% ({self.n}/{counted(self.total, self.unit)})"
        else:
            share = counted(self.n, self.unit)
        postfix = f", {self._postfix}" if self._postfix else ""
        word = "done " if done else ""
        print(f"{_stamp()} {self.desc}: {word}{share} in {seconds:.1f} s{postfix}", file=sys.stderr,
              flush=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.log_every is not None and self.n:
            self._line(done=True)


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "",
             unit: str = "it", enabled: bool = True, leave: bool = True,
             log_every: float | None = DEFAULT_LOG_EVERY) -> Any:
    """A progress bar over ``iterable`` (or ``total`` steps advanced with ``update``).

    enabled False (the caller's ``progress=False``) or mode ``off``: nothing is shown.
    log_every: in a log, a line each time this share of ``total`` is passed; None for none (the
    caller writes its own summary line with :func:`note`, e.g. one per epoch).
    Returns a tqdm bar or a :class:`LogProgress`; both iterate, ``update``, ``set_postfix``, ``close``.
    """
    mode = current_mode() if enabled else "off"
    if mode == "bar":
        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=sys.stderr)
    return LogProgress(iterable, total=total, desc=desc, unit=unit,
                       log_every=log_every if mode == "log" else None)
