"""Retries of transient failures (connection refused/reset, server restarting, too many
connections, deadlock, serialization failure, pool exhausted).

Only idempotent work is retried: opening connections, and read statements that have not
delivered a batch yet (``query``, ``stream`` before it returns, ``execute``). A
statement that writes (DML or DDL, ``insert ... returning`` through ``query``, a call
of ``nextval``) is run once, as is ``executemany``. ``write`` is retried when the
failure came before its COMMIT and its input can be read again. Each retry is logged on the
``sqlarrow`` logger (without secrets). The sleep between attempts is an ordinary
``time.sleep``: Ctrl-C interrupts it at once.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from .exceptions import ConfigError, QueryTimeoutError, SqlArrowError

__all__ = ["RetryPolicy"]

logger = logging.getLogger("sqlarrow")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter.

    Attempt ``n`` (1-based) that fails with a transient error waits
    ``min(max_delay, initial_delay * multiplier ** (n - 1))`` seconds (times a random
    factor in [0.5, 1] when ``jitter``) before attempt ``n + 1``; at most
    ``max_attempts`` attempts in all. ``QueryTimeoutError`` is never retried (the
    same statement would most likely time out again).
    """

    max_attempts: int = 3
    initial_delay: float = 0.1
    max_delay: float = 5.0
    multiplier: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ConfigError("RetryPolicy.max_attempts must be an int")
        if self.max_attempts < 1:
            raise ConfigError("RetryPolicy.max_attempts must be >= 1")
        for name in ("initial_delay", "max_delay", "multiplier"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"RetryPolicy.{name} must be a number >= 0")
        if not isinstance(self.jitter, bool):
            raise ConfigError("RetryPolicy.jitter must be a bool")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return base * random.uniform(0.5, 1.0) if self.jitter else base

    def should_retry(self, exc: BaseException) -> bool:
        return (
            isinstance(exc, SqlArrowError)
            and bool(getattr(exc, "transient", False))
            and not isinstance(exc, QueryTimeoutError)
        )

    def run(self, fn: Callable[[], T], what: str, where: str = "") -> T:
        """Call ``fn`` until it succeeds, fails with a permanent error, or the attempts
        are used up (the last error is raised)."""
        attempt = 1
        while True:
            try:
                return fn()
            except SqlArrowError as exc:
                if attempt >= self.max_attempts or not self.should_retry(exc):
                    raise
                wait = self.delay(attempt)
                logger.warning(
                    "%s%s failed with %s (attempt %d of %d), retrying in %.2f s",
                    what,
                    f" on {where}" if where else "",
                    type(exc).__name__,
                    attempt,
                    self.max_attempts,
                    wait,
                )
                time.sleep(wait)
                attempt += 1
