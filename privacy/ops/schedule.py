"""The shop's scheduled work, run by ``python manage.py run_scheduler`` (the compose file's
``scheduler`` service): the table ``JOBS`` says what runs when; each run is a subprocess
``python manage.py ...`` whose result goes to stdout (the container's log), to the audit log
(``privacy.job.ran`` / ``privacy.job.failed``: the job, the command, the exit status, never the
command's output) and to one row per job (``ScheduledJob``), which the administrator's inbox
reads: a job whose last run failed, or that has not run when it should have, waits there.

No cron daemon: one Python loop, one job at a time (a backup and a key rotation never run side
by side; a long job delays the others, which run when it ends). Times are the shop's
(``BOOKSHOP_TIME_ZONE``). A job whose time passed while the scheduler was stopped runs once when
it starts again; missed runs are not repeated one by one."""

import subprocess
import sys
import time as _time
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from privacy.audit import log as audit
from privacy.core import context, inbox
from privacy.ops.models import ScheduledJob
from privacy.staff import roles

RAN, FAILED = "privacy.job.ran", "privacy.job.failed"


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


# --- When ---------------------------------------------------------------------------------
# Each cadence answers one question: the first time strictly after ``moment`` (an aware
# datetime) that the job is due. Hours and days are the shop's wall clock.


@dataclass(frozen=True)
class EveryMinutes:
    minutes: int = 1

    def __post_init__(self):
        if self.minutes < 1 or 60 % self.minutes:
            raise ValueError("EveryMinutes takes a divisor of 60.")

    def next_after(self, moment: datetime) -> datetime:
        start = moment.astimezone(_zone()).replace(second=0, microsecond=0)
        start -= timedelta(minutes=start.minute % self.minutes)
        while start <= moment:
            start += timedelta(minutes=self.minutes)
        return start

    def __str__(self):
        return "every minute" if self.minutes == 1 else f"every {self.minutes} minutes"


@dataclass(frozen=True)
class Hourly:
    minute: int = 0

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(_zone())
        candidate = local.replace(minute=self.minute, second=0, microsecond=0)
        # In UTC, so that an hour is an hour across a change of summer time.
        candidate = candidate.astimezone(ZoneInfo("UTC"))
        while candidate <= moment:
            candidate += timedelta(hours=1)
        return candidate.astimezone(_zone())

    def __str__(self):
        return f"hourly at :{self.minute:02d}"


@dataclass(frozen=True)
class Daily:
    at: time

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(_zone())
        candidate = datetime.combine(local.date(), self.at, tzinfo=_zone())
        while candidate <= moment:
            candidate = datetime.combine(
                candidate.date() + timedelta(days=1), self.at, tzinfo=_zone()
            )
        return candidate

    def __str__(self):
        return f"daily at {self.at:%H:%M}"


@dataclass(frozen=True)
class Monthly:
    day: int
    at: time

    def __post_init__(self):
        if not 1 <= self.day <= 28:
            raise ValueError("Monthly takes a day from 1 to 28, which every month has.")

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(_zone())
        year, month = local.year, local.month
        while True:
            candidate = datetime(
                year, month, self.day, self.at.hour, self.at.minute, tzinfo=_zone()
            )
            if candidate > moment:
                return candidate
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def __str__(self):
        return f"monthly on day {self.day} at {self.at:%H:%M}"


# --- What ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    name: str
    cadence: EveryMinutes | Hourly | Daily | Monthly
    # Commands run one after the other (``manage.py`` arguments); the first that fails ends
    # the run: ``backup && backup --prune``.
    steps: tuple[tuple[str, ...], ...]
    # Seconds one step may take before it is killed (a hung job would stop every other).
    timeout: int = 3600
    # Every-minute work: a success goes to the audit log only after a failure and at the
    # scheduler's start, or the log would hold 1,440 "ran" entries a day and bury the rest.
    # Every failure is recorded.
    quiet: bool = False
    # Shown to the administrator as not run once this long past its due time.
    late_after: timedelta = timedelta(hours=2)

    def command(self, step: tuple[str, ...]) -> str:
        return " ".join(step)


# The shop's schedule. Nightly work runs outside the default business hours (08:00-23:00).
JOBS: tuple[Job, ...] = (
    # Arrival notices queued by the counter; a missing command fails here, visibly.
    Job("send-outbox", EveryMinutes(1), (("send_outbox",),), timeout=600, quiet=True),
    # Signed head of the audit chain, to the checkpoint file outside the database.
    Job("audit-checkpoint", Hourly(0), (("audit_checkpoint",),), timeout=600),
    Job("expire-access", Daily(time(0, 15)), (("expire_access",),)),
    # An erasure whose ledger line was lost to a crash between commit and write gets it back.
    Job("erasure-ledger", Daily(time(0, 30)), (("erasure", "ledger", "--repair"),)),
    Job("verify-audit-log", Daily(time(2, 0)), (("verify_audit_log",),), timeout=4 * 3600),
    # A new encrypted backup into BOOKSHOP_BACKUP_DIR, then the old ones pruned.
    # Then every old key that no kept backup needs any more is destroyed: from then on no
    # copy of an erased customer's data key can be opened (privacy.desks.erasure's date).
    Job(
        "backup",
        Daily(time(3, 0)),
        (("backup",), ("backup", "--prune"), ("keys", "retire", "--unneeded")),
        timeout=4 * 3600,
    ),
    # Counts only: the manager proposes the batch in the app; the log shows it was looked at.
    Job("retention-dry-run", Monthly(1, time(4, 0)), (("retention", "--dry-run"),)),
    # A new key-encryption key once the active one is BOOKSHOP_KEY_ROTATE_DAYS old (monthly by
    # default): asked daily, so each epoch lasts exactly that long and the erasure horizon
    # (privacy.desks.erasure) can count on it; a fixed day of the month would stretch
    # some epochs to two months.
    Job("keys-rotate", Daily(time(4, 30)), (("keys", "rotate", "--if-due"),), timeout=4 * 3600),
)


@dataclass(frozen=True)
class Outcome:
    job: Job
    started: datetime
    finished: datetime
    step: tuple[str, ...]  # the last step run: the one that failed, or the last one
    exit_status: int | None  # None: could not be started; negative: killed by that signal
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def seconds(self) -> float:
        return round((self.finished - self.started).total_seconds(), 1)


def manage_py() -> str:
    return str(settings.BASE_DIR / "manage.py")


def run_job(job: Job, *, clock=timezone.now, track=None) -> Outcome:
    """Run the job's steps as ``python manage.py ...`` subprocesses with this process's
    environment; their output goes where this process's goes (the container's log).
    ``track`` is told the running process (and None after), so a stop can pass it on."""
    started = clock()
    status: int | None = 0
    timed_out = False
    step: tuple[str, ...] = ()
    for step in job.steps:
        try:
            process = subprocess.Popen(  # noqa: S603 (fixed argv from the table above)
                [sys.executable, manage_py(), *step], cwd=settings.BASE_DIR
            )
        except OSError:
            status = None
            break
        if track:
            track(process)
        try:
            status = process.wait(timeout=job.timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            status = process.wait()
            timed_out = True
        finally:
            if track:
                track(None)
        if status != 0:
            break
    return Outcome(job, started, clock(), step, status, timed_out)


# --- The loop -----------------------------------------------------------------------------


class Scheduler:
    """``start()`` reads what ran before; ``run_due()`` runs what is due at ``clock()``;
    ``serve()`` repeats that until ``stop()``. The clock is injected for the tests."""

    def __init__(self, jobs=JOBS, *, clock=timezone.now, out=None):
        self.jobs = {job.name: job for job in jobs}
        self.clock = clock
        self.out = out or sys.stdout
        self.due: dict[str, datetime] = {}
        self.stopping = False
        self._child = None
        self._recorded: set[str] = set()

    def start(self) -> None:
        now = self.clock()
        known = {row.name: row for row in ScheduledJob.objects.filter(name__in=self.jobs)}
        for name, job in self.jobs.items():
            row = known.get(name) or ScheduledJob.objects.create(name=name, known_since=now)
            # From its last run (or from when it was first known): a time that passed while
            # the scheduler was stopped makes the job due now.
            self.due[name] = job.cadence.next_after(row.last_started or row.known_since)

    def run_due(self) -> list[Outcome]:
        outcomes = []
        for name in sorted(self.jobs, key=lambda n: self.due[n]):
            if self.stopping:
                break
            if self.due[name] > self.clock():
                continue
            outcomes.append(self.run(self.jobs[name]))
            self.due[name] = self.jobs[name].cadence.next_after(self.clock())
        return outcomes

    def run(self, job: Job) -> Outcome:
        commands = " && ".join(f"manage.py {job.command(step)}" for step in job.steps)
        self._say(f"job {job.name} started: {commands}")
        outcome = run_job(job, clock=self.clock, track=self._track)
        result = "succeeded" if outcome.ok else "FAILED"
        extra = " (time limit reached, killed)" if outcome.timed_out else ""
        self._say(
            f"job {job.name} {result}: `{job.command(outcome.step)}` exit status "
            f"{outcome.exit_status}{extra}, {outcome.seconds} s"
        )
        try:
            self.record(outcome)
        except DatabaseError as error:  # the database is down: the log line above remains
            self._say(f"job {job.name}: result not recorded ({type(error).__name__})")
        finally:
            # A long-lived process: a fresh connection for each run, so a database that was
            # restarted meanwhile costs one failed record, not every one after it.
            for database in connections.all(initialized_only=True):
                if not database.in_atomic_block:
                    database.close()
        return outcome

    def record(self, outcome: Outcome) -> None:
        job = outcome.job
        with context.scope(), transaction.atomic():
            row, _created = ScheduledJob.objects.select_for_update().get_or_create(
                name=job.name, defaults={"known_since": outcome.started}
            )
            recovered = not row.last_ok
            row.last_started, row.last_finished = outcome.started, outcome.finished
            row.last_exit_status, row.last_ok = outcome.exit_status, outcome.ok
            if outcome.ok:
                row.last_success = outcome.finished
            row.save()
            if outcome.ok and job.quiet and not recovered and job.name in self._recorded:
                return
            self._recorded.add(job.name)
            data = {
                "job": job.name,
                "command": job.command(outcome.step),
                "exit_status": outcome.exit_status,
                "seconds": outcome.seconds,
            }
            if outcome.timed_out:
                data["timed_out"] = True
            audit.record(RAN if outcome.ok else FAILED, data=data)

    def seconds_to_next(self) -> float:
        if not self.due:
            return 60.0
        return max(0.0, (min(self.due.values()) - self.clock()).total_seconds())

    def serve(self, sleep=_time.sleep) -> None:
        self.start()
        for name in sorted(self.jobs, key=lambda n: self.due[n]):
            job = self.jobs[name]
            self._say(f"job {name} ({job.cadence}) next at {self.due[name].isoformat()}")
        while not self.stopping:
            self.run_due()
            # At most a minute: a clock that jumped (suspend, NTP) is noticed soon.
            waited = 0.0
            pause = min(60.0, self.seconds_to_next())
            while not self.stopping and waited < pause:
                step = min(1.0, pause - waited)
                sleep(step)
                waited += step
        self._say("scheduler stopped")

    def stop(self, *args) -> None:
        """SIGTERM/SIGINT: no new job starts; the running one is asked to stop (its run is
        recorded as failed, with the signal's number)."""
        self.stopping = True
        if self._child is not None:
            self._child.terminate()

    def _track(self, process) -> None:
        self._child = process

    def _say(self, message: str) -> None:
        self.out.write(f"{timezone.localtime(self.clock(), _zone()).isoformat()} {message}\n")
        self.out.flush()


# --- The administrator's inbox -------------------------------------------------------------

_JOBS_BY_NAME = {job.name: job for job in JOBS}


def audit_log_link(name: str, at: datetime | None, event: str | None = FAILED) -> str:
    """The audit log on the day of the job's last run, asking for that job's events."""
    query = {"event": event, "job": name} if event else {"job": name}
    if at is not None:
        day = timezone.localtime(at, _zone()).date().isoformat()
        query.update(date_from=day, date_to=day)
    return f"{reverse('privacy:audit_log')}?{urlencode(query)}"


def late(row: ScheduledJob, now: datetime) -> bool:
    job = _JOBS_BY_NAME.get(row.name)
    if job is None:
        return False
    return now > job.cadence.next_after(row.last_started or row.known_since) + job.late_after


def _when(at: datetime) -> str:
    return date_format(timezone.localtime(at, _zone()), "Y-m-d H:i")


@inbox.register("job")
def jobs_waiting(user) -> list[inbox.Waiting]:
    """For the administrator: each scheduled job whose last run failed, or that is late (the
    scheduler is not running). One query on a table of a few rows."""
    if not roles.has_role(user, roles.ADMINISTRATOR):
        return []
    now = timezone.now()
    items = []
    for row in ScheduledJob.objects.order_by("name"):
        if not row.last_ok:
            label = _("Scheduled job %(job)s failed at %(time)s (exit status %(status)s)") % {
                "job": row.name,
                "time": _when(row.last_finished),
                "status": row.last_exit_status,
            }
            items.append(
                inbox.Waiting(
                    "job", label, audit_log_link(row.name, row.last_finished), row.last_finished
                )
            )
        elif late(row, now):
            since = row.last_started or row.known_since
            label = _("Scheduled job %(job)s has not run since %(time)s") % {
                "job": row.name,
                "time": _when(since),
            }
            items.append(inbox.Waiting("job", label, audit_log_link(row.name, since, None), since))
    return items
