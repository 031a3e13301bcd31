"""The service's clocks: the wall clock, and a scaled one for the demo and the tests.

The core never reads a clock; the shell asks one of these for `now` and for how long (in wall
seconds) to wait until a moment of its time, which is all the scheduler needs.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from optimizer import ports


class WallClock(ports.WallClock):
    """The one wall clock, which the scheduler can also ask how long to wait."""

    def wall_seconds_until(self, at: datetime) -> float:
        return max(0.0, (at - self.now()).total_seconds())


class ScaledClock:
    """Time that starts at `start` and runs `speed` times faster than the wall clock.

    With `running=False` it stands at `start` until `run()`, so a demo can set everything up
    (brokers, stations) without the simulated evening slipping away meanwhile.
    """

    def __init__(self, start: datetime, speed: float, *, running: bool = True) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed:g}")
        self.start = start
        self.speed = speed
        self._origin: float | None = time.monotonic() if running else None

    def run(self) -> None:
        if self._origin is None:
            self._origin = time.monotonic()

    def now(self) -> datetime:
        if self._origin is None:
            return self.start
        return self.start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    def wall_seconds_until(self, at: datetime) -> float:
        """While standing, a moment ahead is waited for as if running (the ticker re-asks)."""
        return max(0.0, (at - self.now()).total_seconds() / self.speed)
