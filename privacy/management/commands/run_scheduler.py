"""The scheduler service: runs the shop's scheduled jobs (``privacy.ops.schedule.JOBS``)."""

import signal

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from privacy.ops import schedule
from privacy.ops.models import ScheduledJob


class Command(BaseCommand):
    help = (
        "Run the scheduled jobs (checkpoints, verification, expiry, backups, retention dry run, "
        "key rotation, the mail outbox) until stopped; --list shows them, --run NAME runs one "
        "now. Each run is logged here and in the audit log; a failure waits in the "
        "administrator's inbox."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--list", action="store_true", help="Each job, when it runs, its last result."
        )
        group.add_argument(
            "--run", metavar="NAME", help="Run one job now, recorded like a scheduled run."
        )

    def handle(self, *args, list=False, run=None, **options):
        scheduler = schedule.Scheduler(out=self.stdout)
        if list:
            self._list()
            return
        if run:
            job = scheduler.jobs.get(run)
            if job is None:
                raise CommandError(f"No job {run}; jobs: {', '.join(scheduler.jobs)}.")
            if not scheduler.run(job).ok:
                raise CommandError(f"Job {run} failed.")
            return
        signal.signal(signal.SIGTERM, scheduler.stop)
        signal.signal(signal.SIGINT, scheduler.stop)
        scheduler.serve()

    def _list(self):
        rows = {row.name: row for row in ScheduledJob.objects.all()}
        now = timezone.now()
        for job in schedule.JOBS:
            row = rows.get(job.name)
            if row is None or row.last_started is None:
                last = "never run"
            else:
                result = "ok" if row.last_ok else f"FAILED (exit status {row.last_exit_status})"
                last = f"last {timezone.localtime(row.last_started).isoformat()} {result}"
            commands = " && ".join(job.command(step) for step in job.steps)
            self.stdout.write(f"{job.name:<18} {job.cadence!s:<26} {commands:<34} {last}")
            if row is not None and schedule.late(row, now):
                self.stdout.write(f"{'':<18} LATE: the scheduler has not run it when due")
