"""The persisted ledger of CarData REST calls: 50 a day per account, reset at 00:00 UTC.

BMW answers the 51st call with HTTP 403 `CU-429` and that's the day gone (reference/cardata.md
§5.4), and every process of the household shares the same account. So the ledger lives in the
state directory (JSON, atomic writes, locked across processes), is charged *before* a call, and
keeps `reserve` calls back: routine calls stop early with a clear message, so the last few stay
available for what matters (e.g. a final SoC check before departure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from optimizer.cardata.files import (
    locked,
    read_json,
    remove_stale_temp_files,
    write_json_atomic,
)
from optimizer.errors import UserError

LEDGER_FILE = "cardata_quota.json"
DAILY_LIMIT = 50
DEFAULT_RESERVE = 5


class QuotaExhausted(UserError):
    """No REST call is allowed now; the message says when the quota resets."""


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    day: str
    used: int
    limit: int
    reserve: int
    resets_at: datetime

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def _day_start(now: datetime) -> datetime:
    utc = now.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


class QuotaLedger:
    def __init__(self, state_dir: Path, *, limit: int = DAILY_LIMIT,
                 reserve: int = DEFAULT_RESERVE) -> None:
        self.path = state_dir / LEDGER_FILE
        remove_stale_temp_files(self.path)
        self.limit = limit
        self.reserve = reserve

    def _load(self, now: datetime) -> tuple[str, int]:
        day = _day_start(now).date().isoformat()
        data = read_json(self.path)
        if not isinstance(data, dict) or data.get("day") != day:
            return day, 0  # a new UTC day (or no ledger yet): BMW has reset the count
        used = data.get("used")
        return day, used if isinstance(used, int) and used >= 0 else self.limit

    def _status(self, day: str, used: int, now: datetime) -> QuotaStatus:
        return QuotaStatus(day, used, self.limit, self.reserve,
                           _day_start(now) + timedelta(days=1))

    def status(self, now: datetime) -> QuotaStatus:
        day, used = self._load(now)
        return self._status(day, used, now)

    def spend(self, now: datetime, *, essential: bool = False, calls: int = 1) -> QuotaStatus:
        """Charge `calls` calls or raise `QuotaExhausted` without charging anything.

        Routine calls may use the quota down to `reserve`; `essential` ones may use it all.
        """
        with locked(self.path):
            day, used = self._load(now)
            allowed = self.limit if essential else self.limit - self.reserve
            if used + calls > allowed:
                status = self._status(day, used, now)
                raise QuotaExhausted(self._refusal(status, essential, now))
            write_json_atomic(self.path, {"day": day, "used": used + calls,
                                          "limit": self.limit})
            return self._status(day, used + calls, now)

    def exhaust(self, now: datetime) -> None:
        """BMW said CU-429: whatever we counted, the day's quota is gone."""
        with locked(self.path):
            day, _ = self._load(now)
            write_json_atomic(self.path, {"day": day, "used": self.limit, "limit": self.limit})

    def _refusal(self, status: QuotaStatus, essential: bool, now: datetime) -> str:
        wait = status.resets_at - now
        hours, rest = divmod(int(wait.total_seconds()), 3600)
        when = f"resets at 00:00 UTC (in {hours} h {rest // 60:02d} min)"
        if essential or status.used >= status.limit:
            return (f"CarData REST quota used up: {status.used} of {status.limit} calls today; "
                    f"it {when}. The MQTT stream is not affected")
        return (f"CarData REST quota: {status.used} of {status.limit} calls used today and the "
                f"last {status.reserve} are kept in reserve; not spending them on this call. "
                f"The quota {when}")
