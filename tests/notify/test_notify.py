"""Notifications through apprise to a real local HTTP endpoint (`json://`): every event kind,
the event filter, de-duplication, the rate limit, retries, the 0600 rule for `urls_file`,
and nothing lost or sent twice across a kill -9 of the sending process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from optimizer.errors import ConfigError
from optimizer.events import Notification, NotificationKind
from optimizer.model import ChargePlan, PlannedSlot
from optimizer.notify import messages
from optimizer.notify.sender import AppriseNotifier
from optimizer.notify.settings import NotifySettings
from optimizer.ports import Notifier
from tests.notify.conftest import Receiver

TZ = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # 18:00 in Berlin
ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def make_plan(soc_at_departure: float = 80.0, target: float = 80.0,
              feasible: bool = True) -> ChargePlan:
    start = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 02:00 local
    slots = tuple(
        PlannedSlot(start=start + timedelta(minutes=15 * i),
                    end=start + timedelta(minutes=15 * (i + 1)), power_kw=11.0,
                    energy_kwh=2.75, price=0.21, provisional=False,
                    soc_start_pct=30 + 3 * i, soc_end_pct=33 + 3 * i)
        for i in range(8))
    return ChargePlan(feasible=feasible, reason=None if feasible else "not enough time",
                      now=T0, departure=datetime(2026, 12, 2, 6, 30, tzinfo=UTC),
                      soc_start_pct=30.0, target_soc_pct=target,
                      soc_at_departure_pct=soc_at_departure, energy_kwh=22.0, cost=4.62,
                      slots=slots)


def notifier(tmp_path: Path, urls: list[str], clock: Clock | None = None,
             **settings: object) -> AppriseNotifier:
    return AppriseNotifier(tmp_path / "ev-optimizer.db",
                           NotifySettings.model_validate({"urls": urls, **settings}),
                           clock or Clock())


def every_kind() -> list[Notification]:
    plan = make_plan()
    return [
        messages.plan_made("iX1", 7, plan, TZ),
        messages.charging_started("iX1", 7, T0 + timedelta(hours=8), TZ, 31.0, 11.0),
        messages.charging_stopped("iX1", 7, T0 + timedelta(hours=10), TZ, 80.0, 22.1,
                                  reason="target reached"),
        messages.target_unreachable("iX1", 7, make_plan(64.0, 80.0, False), TZ,
                                    limited_by_price=True),
        messages.session_ended("iX1", 7, T0 + timedelta(hours=14), 22.1, 4.62, 6.90),
        messages.cardata_login_expired(T0),
        messages.charger_offline("garage", T0 - timedelta(minutes=20), T0, TZ),
        messages.rest_quota_used_up(50, 50, T0 + timedelta(hours=7), T0, TZ),
    ]


EXPECTED = [
    "iX1 charges 02:00–04:00, 22.0 kWh for 4.62 EUR: 80 % at 07:30",
    "iX1 started charging at 31 %, 11.0 kW at 02:00",
    "iX1 stopped charging at 80 % at 04:00 (target reached); 22.1 kWh so far",
    "iX1 will be at 64 % at 07:30, not 80 %: plug in earlier or allow a dearer hour",
    "iX1 session: 22.1 kWh for 4.62 EUR, saved 2.28 EUR against charging on arrival",
    "BMW CarData login expired: the car's state is no longer updated; "
    "run `ev-optimizer login` to sign in again",
    "Charger garage has been offline for 20 min (since 17:40): charging cannot follow the "
    "plan; check its power and network",
    "BMW CarData REST quota used up (50 of 50 calls): the SoC is estimated without "
    "refreshes until 01:00",
]


async def test_every_event_kind_arrives_through_apprise(tmp_path: Path,
                                                        receiver: Receiver) -> None:
    sender = notifier(tmp_path, [receiver.url()])
    assert isinstance(sender, Notifier)
    for notification in every_kind():
        await sender.notify(notification)
    assert await sender.send_due() == len(EXPECTED)
    assert receiver.messages() == EXPECTED
    assert receiver.acknowledged[0]["title"] == "iX1: charging plan"
    assert {n.kind for n in every_kind()} == set(NotificationKind)


async def test_only_the_configured_events_are_sent(tmp_path: Path, receiver: Receiver) -> None:
    sender = notifier(tmp_path, [receiver.url()], events=["target_unreachable", "attention"])
    for notification in every_kind():
        await sender.notify(notification)
    await sender.send_due()
    assert receiver.messages() == [EXPECTED[3], *EXPECTED[5:]]


def test_an_unknown_event_name_is_refused() -> None:
    with pytest.raises(ValueError, match="plan_made"):
        NotifySettings.model_validate({"events": ["plan_made"]})


async def test_a_repeated_key_is_one_message_also_after_a_restart(
        tmp_path: Path, receiver: Receiver) -> None:
    sender = notifier(tmp_path, [receiver.url()])
    plan = make_plan()
    await sender.notify(messages.plan_made("iX1", 7, plan, TZ))
    await sender.send_due()
    # a re-plan with a cost a few cents off is not a material change
    cheaper = ChargePlan(**{**{f: getattr(plan, f) for f in plan.__slots__}, "cost": 4.60})
    await sender.notify(messages.plan_made("iX1", 7, cheaper, TZ))
    await sender.send_due()
    sender.close()
    restarted = notifier(tmp_path, [receiver.url()])
    await restarted.notify(messages.plan_made("iX1", 7, plan, TZ))
    await restarted.send_due()
    assert receiver.messages() == [EXPECTED[0]]
    # ... while a later end is a new plan
    later = make_plan(soc_at_departure=85.0)
    await restarted.notify(messages.plan_made("iX1", 7, later, TZ))
    await restarted.send_due()
    assert len(receiver.messages()) == 2


async def test_the_rate_limit_holds_messages_back_until_the_hour_frees(
        tmp_path: Path, receiver: Receiver) -> None:
    clock = Clock()
    sender = notifier(tmp_path, [receiver.url()], clock, max_per_hour=3)
    for notification in every_kind()[:5]:
        await sender.notify(notification)
    assert await sender.send_due() == 3
    clock.now += timedelta(minutes=59)
    assert await sender.send_due() == 0
    clock.now += timedelta(minutes=1)
    assert await sender.send_due() == 2
    assert receiver.messages() == EXPECTED[:5]


async def test_a_failed_url_is_retried_and_the_others_get_it_once(
        tmp_path: Path, receiver: Receiver) -> None:
    clock = Clock()
    sender = notifier(tmp_path, [receiver.url("a"), f"json://127.0.0.1:{_closed_port()}/b"],
                      clock, retry_s=30)
    await sender.notify(every_kind()[0])
    assert await sender.send_due() == 0
    clock.now += timedelta(seconds=29)
    assert await sender.send_due() == 0
    assert sender.outbox.counts() == {"pending": 1}
    clock.now += timedelta(seconds=1)
    await sender.send_due()  # second attempt: /a is not asked again
    assert len(receiver.acknowledged) == 1
    receiver.fail_next = 1
    other = notifier(tmp_path / "2", [receiver.url()], clock, retry_s=30)
    await other.notify(every_kind()[1])
    assert await other.send_due() == 0  # HTTP 500
    clock.now += timedelta(seconds=30)
    assert await other.send_due() == 1
    assert receiver.messages() == EXPECTED[:2]


def _closed_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_notify_returns_while_a_delivery_hangs(tmp_path: Path, receiver: Receiver) -> None:
    receiver.hold_at = 1
    sender = notifier(tmp_path, [receiver.url()])
    task = asyncio.create_task(sender.run())
    await sender.notify(every_kind()[0])
    await asyncio.to_thread(receiver.held.wait, 10)
    assert receiver.held.is_set()
    # the sender hangs on the network; handing over (the control loop's side) does not
    await asyncio.wait_for(sender.notify(every_kind()[1]), 0.5)
    assert sender.outbox.counts() == {"pending": 2}
    receiver.release.set()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def test_urls_file_must_be_0600(tmp_path: Path, receiver: Receiver) -> None:
    path = tmp_path / "notify-urls"
    path.write_text(f"# ntfy and the test endpoint\n{receiver.url()}\n")
    path.chmod(0o644)
    settings = NotifySettings(urls_file=path)
    with pytest.raises(ConfigError, match=f"{path}.*mode 0644.*chmod 600"):
        settings.all_urls()
    path.chmod(0o600)
    assert settings.all_urls() == [receiver.url()]


def test_a_url_apprise_does_not_know_is_named_without_its_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"urls\[1\].*'nosuch://'") as info:
        notifier(tmp_path, ["json://127.0.0.1:1/x", "nosuch://secret-token@host"])
    assert "secret-token" not in str(info.value)


def test_nothing_is_lost_or_sent_twice_across_kill_9(tmp_path: Path,
                                                     receiver: Receiver) -> None:
    """The sender process is killed while delivery 5 is in flight (the endpoint holds it
    unanswered), then started again, as a restarted service would be."""
    count = 12
    db = tmp_path / "ev-optimizer.db"
    receiver.hold_at = 5
    command = [sys.executable, "-m", "tests.notify.sender_proc", str(db), receiver.url(),
               str(count)]
    first = subprocess.Popen(command, cwd=ROOT)
    assert receiver.held.wait(30), "the sender never reached the fifth delivery"
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    receiver.release.set()
    assert len(receiver.acknowledged) == 4
    subprocess.run(command, cwd=ROOT, check=True, timeout=60)
    delivered = receiver.messages()
    assert sorted(delivered) == sorted(f"message {i}" for i in range(count))
    assert len(delivered) == len(set(delivered)) == count
    # the in-flight one reached the socket twice but was confirmed once (see outbox.py)
    assert [b["message"] for b in receiver.received].count("message 4") == 2
