"""The scheduler (privacy/ops/schedule.py): when each job is due, and what a run leaves behind.
Runs are real ``python manage.py ...`` subprocesses; the clock is injected, nothing sleeps."""

import io
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils.http import urlencode

from privacy.audit.models import AuditLogEntry
from privacy.core import inbox
from privacy.desks import approvals  # noqa: F401  (registers its sources, as the pages do)
from privacy.ops import schedule
from privacy.ops.models import ScheduledJob
from privacy.ops.schedule import Daily, EveryMinutes, Hourly, Job, Monthly, Scheduler
from tests.conftest import login

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(autouse=True)
def _shop_time(settings):
    settings.TIME_ZONE = "Asia/Tokyo"


def tokyo(*args) -> datetime:
    return datetime(*args, tzinfo=TOKYO)


# --- When ---------------------------------------------------------------------------------


def test_every_minute_is_due_at_the_next_whole_minute():
    cadence = EveryMinutes(1)
    assert cadence.next_after(tokyo(2026, 12, 2, 10, 0, 30)) == tokyo(2026, 12, 2, 10, 1)
    assert cadence.next_after(tokyo(2026, 12, 2, 10, 1)) == tokyo(2026, 12, 2, 10, 2)
    assert cadence.next_after(tokyo(2026, 12, 31, 23, 59, 59)) == tokyo(2027, 1, 1, 0, 0)


def test_hourly_is_due_on_the_hour_strictly_after():
    cadence = Hourly(0)
    assert cadence.next_after(tokyo(2026, 12, 2, 10, 0)) == tokyo(2026, 12, 2, 11, 0)
    assert cadence.next_after(tokyo(2026, 12, 2, 10, 59, 59)) == tokyo(2026, 12, 2, 11, 0)
    assert cadence.next_after(tokyo(2026, 12, 2, 23, 30)) == tokyo(2026, 12, 3, 0, 0)
    # An instant given in UTC is the same instant: 01:00 UTC is 10:00 in Tokyo.
    assert cadence.next_after(datetime(2026, 12, 2, 1, 0, tzinfo=UTC)) == tokyo(2026, 12, 2, 11)


def test_nightly_is_due_at_the_shops_local_time():
    cadence = Daily(time(3, 0))
    assert cadence.next_after(tokyo(2026, 12, 2, 2, 59)) == tokyo(2026, 12, 2, 3, 0)
    assert cadence.next_after(tokyo(2026, 12, 2, 3, 0)) == tokyo(2026, 12, 3, 3, 0)
    assert cadence.next_after(tokyo(2026, 12, 2, 23, 0)) == tokyo(2026, 12, 3, 3, 0)
    # 03:00 in Tokyo is 18:00 UTC the day before.
    due = cadence.next_after(datetime(2026, 12, 2, 17, 0, tzinfo=UTC))
    assert due == datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def test_monthly_is_due_on_its_day_and_rolls_over_the_year():
    cadence = Monthly(1, time(4, 30))
    assert cadence.next_after(tokyo(2026, 11, 15, 12, 0)) == tokyo(2026, 12, 1, 4, 30)
    assert cadence.next_after(tokyo(2026, 12, 1, 4, 30)) == tokyo(2027, 1, 1, 4, 30)
    assert cadence.next_after(tokyo(2026, 12, 1, 4, 29)) == tokyo(2026, 12, 1, 4, 30)
    with pytest.raises(ValueError):
        Monthly(31, time(0, 0))  # not every month has it


# --- Runs ---------------------------------------------------------------------------------


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


# Real commands: `version` prints Django's version and exits 0; `retention` without one of
# its required options is refused by its argument parser with exit status 2.
WORKS = (("version",),)
FAILS = (("retention",),)


def job_events(name):
    return [
        entry
        for entry in AuditLogEntry.objects.filter(
            event__in=[schedule.RAN, schedule.FAILED]
        ).order_by("seq")
        if (entry.additional_data or {}).get("job") == name
    ]


@pytest.mark.django_db
def test_a_nightly_job_runs_when_due_and_once(administrator):
    clock = Clock(tokyo(2026, 12, 2, 2, 59))
    out = io.StringIO()
    scheduler = Scheduler([Job("nightly-test", Daily(time(3, 0)), WORKS)], clock=clock, out=out)
    scheduler.start()

    assert scheduler.run_due() == []  # 02:59: not yet
    assert job_events("nightly-test") == []

    clock.now = tokyo(2026, 12, 2, 3, 0)
    (outcome,) = scheduler.run_due()
    assert outcome.ok and outcome.exit_status == 0
    assert scheduler.due["nightly-test"] == tokyo(2026, 12, 3, 3, 0)
    assert scheduler.run_due() == []  # not twice the same night

    (event,) = job_events("nightly-test")
    assert event.event == "privacy.job.ran"
    assert event.additional_data["exit_status"] == 0
    assert event.additional_data["command"] == "version"
    log = out.getvalue()
    assert "job nightly-test started: manage.py version" in log
    assert "job nightly-test succeeded" in log and "exit status 0" in log
    row = ScheduledJob.objects.get(name="nightly-test")
    assert row.last_ok and row.last_exit_status == 0
    assert inbox.waiting_for(administrator) == []


@pytest.mark.django_db
def test_a_failed_job_is_logged_and_waits_for_the_administrator(
    client, administrator, clerk, manager
):
    clock = Clock(tokyo(2026, 12, 2, 2, 59))
    out = io.StringIO()
    job = Job("backup-test", Daily(time(3, 0)), (*WORKS, *FAILS, ("version",)))
    scheduler = Scheduler([job], clock=clock, out=out)
    scheduler.start()
    clock.now = tokyo(2026, 12, 2, 3, 0)

    (outcome,) = scheduler.run_due()

    # The second step failed and the third never ran.
    assert not outcome.ok
    assert outcome.exit_status == 2 and outcome.step == ("retention",)
    assert "job backup-test FAILED: `retention` exit status 2" in out.getvalue()
    (event,) = job_events("backup-test")
    assert event.event == "privacy.job.failed"
    # The job, the command and the status; never the command's output.
    assert set(event.additional_data) == {"job", "command", "exit_status", "seconds"}
    assert event.additional_data["exit_status"] == 2

    (item,) = inbox.waiting_for(administrator)
    assert item.kind == "job"
    assert "backup-test" in item.label and "exit status 2" in item.label
    assert "2026-12-02 03:00" in item.label  # the shop's time
    expected = urlencode(
        {
            "event": "privacy.job.failed",
            "job": "backup-test",
            "date_from": "2026-12-02",
            "date_to": "2026-12-02",
        }
    )
    assert item.url == f"{reverse('privacy:audit_log')}?{expected}"
    # Nobody else is asked about the shop's machinery.
    assert inbox.waiting_for(clerk) == [] and inbox.waiting_for(manager) == []

    # The administrator's inbox page shows it, with the link to the audit log.
    login(client, administrator)
    html = client.get(reverse("privacy:approvals")).content.decode()
    assert "backup-test" in html
    assert reverse("privacy:audit_log") in html
    assert client.get(item.url).status_code == 200

    # The next night it works: the item is gone, the log keeps both runs.
    scheduler.jobs["backup-test"] = Job("backup-test", Daily(time(3, 0)), WORKS)
    clock.now = tokyo(2026, 12, 3, 3, 0)
    (outcome,) = scheduler.run_due()
    assert outcome.ok, out.getvalue()
    assert inbox.waiting_for(administrator) == [], out.getvalue()
    assert [e.event for e in job_events("backup-test")] == [
        "privacy.job.failed",
        "privacy.job.ran",
    ]


@pytest.mark.django_db
def test_a_hung_job_is_killed_at_its_time_limit_and_counts_as_failed(administrator):
    clock = Clock(tokyo(2026, 12, 2, 10, 0))
    hangs = (("shell", "-c", "import time; time.sleep(60)"),)
    scheduler = Scheduler(
        [Job("hangs", Hourly(0), hangs, timeout=1)], clock=clock, out=io.StringIO()
    )
    outcome = scheduler.run(scheduler.jobs["hangs"])
    assert outcome.timed_out and not outcome.ok
    assert outcome.exit_status is not None and outcome.exit_status < 0  # killed by a signal
    (event,) = job_events("hangs")
    assert event.event == "privacy.job.failed" and event.additional_data["timed_out"] is True
    (item,) = inbox.waiting_for(administrator)
    assert "hangs" in item.label


@pytest.mark.django_db
def test_a_night_missed_while_stopped_runs_at_start_then_keeps_its_time():
    ScheduledJob.objects.create(
        name="missed",
        known_since=tokyo(2026, 11, 1, 0, 0),
        last_started=tokyo(2026, 12, 1, 3, 0),
        last_finished=tokyo(2026, 12, 1, 3, 1),
        last_exit_status=0,
        last_ok=True,
    )
    clock = Clock(tokyo(2026, 12, 2, 9, 30))  # the scheduler was down at 03:00
    scheduler = Scheduler([Job("missed", Daily(time(3, 0)), WORKS)], clock=clock, out=io.StringIO())
    scheduler.start()
    (outcome,) = scheduler.run_due()
    assert outcome.ok
    assert scheduler.due["missed"] == tokyo(2026, 12, 3, 3, 0)
    assert scheduler.run_due() == []


@pytest.mark.django_db
def test_every_minute_successes_are_not_logged_each_minute_but_failures_are():
    clock = Clock(tokyo(2026, 12, 2, 10, 0, 30))
    scheduler = Scheduler(
        [Job("outbox-test", EveryMinutes(1), WORKS, quiet=True)], clock=clock, out=io.StringIO()
    )
    scheduler.start()
    for minute in (1, 2, 3):
        clock.now = tokyo(2026, 12, 2, 10, minute)
        assert scheduler.run_due()[0].ok
    # One "ran" at the start of the scheduler, not one a minute.
    assert [e.event for e in job_events("outbox-test")] == ["privacy.job.ran"]

    scheduler.jobs["outbox-test"] = Job("outbox-test", EveryMinutes(1), FAILS, quiet=True)
    clock.now = tokyo(2026, 12, 2, 10, 4)
    scheduler.run_due()
    scheduler.jobs["outbox-test"] = Job("outbox-test", EveryMinutes(1), WORKS, quiet=True)
    clock.now = tokyo(2026, 12, 2, 10, 5)
    scheduler.run_due()
    clock.now = tokyo(2026, 12, 2, 10, 6)
    scheduler.run_due()
    assert [e.event for e in job_events("outbox-test")] == [
        "privacy.job.ran",
        "privacy.job.failed",
        "privacy.job.ran",  # recovered; the next success is quiet again
    ]
    assert ScheduledJob.objects.get(name="outbox-test").last_success == tokyo(2026, 12, 2, 10, 6)


@pytest.mark.django_db
def test_a_scheduler_that_stopped_running_shows_as_late(administrator):
    from django.utils import timezone

    ScheduledJob.objects.create(
        name="verify-audit-log",
        known_since=timezone.now() - timedelta(days=10),
        last_started=timezone.now() - timedelta(days=3),
        last_finished=timezone.now() - timedelta(days=3),
        last_exit_status=0,
        last_ok=True,
    )
    (item,) = inbox.waiting_for(administrator)
    assert "verify-audit-log" in item.label and "has not run since" in item.label
