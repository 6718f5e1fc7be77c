import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils.translation import gettext as _

from customers import outbox


class Command(BaseCommand):
    help = (
        "Send the arrival-notice mails that are due (customers/outbox.py): once, or with "
        "--loop every --interval seconds. Each mail is decided on as the clerk who queued it, "
        "in business hours only; a mail the server did not take is tried again later, then "
        "marked failed on the order. Prints counts and order references, never a name or an "
        "address. Exits 1 when a mail could not be sent in this run (once mode)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", action="store_true", help="Keep running (a daemon); stop with Ctrl-C."
        )
        parser.add_argument(
            "--interval", type=int, default=30, help="Seconds between passes with --loop."
        )

    def handle(self, *args, loop=False, interval=30, **options):
        if not loop:
            run = outbox.send_due()
            self._report(run, quiet=False)
            if run.had_failures:
                raise SystemExit(1)
            return
        self.stdout.write(
            _("Sending arrival notices every %(seconds)s seconds; Ctrl-C stops.")
            % {"seconds": max(1, interval)}
        )
        try:
            while True:
                close_old_connections()
                try:
                    self._report(outbox.send_due(), quiet=True)
                except Exception as error:  # noqa: BLE001 - the daemon outlives a bad pass
                    self.stderr.write(
                        _("Outbox pass failed: %(error)s") % {"error": type(error).__name__}
                    )
                time.sleep(max(1, interval))
        except KeyboardInterrupt:
            return

    def _report(self, run, *, quiet: bool) -> None:
        nothing = not (run.sent or run.retrying or run.failed or run.withdrawn or run.waiting)
        if quiet and nothing:
            return
        self.stdout.write(
            _(
                "Outbox: %(sent)s sent, %(retrying)s to try again, %(failed)s failed, "
                "%(withdrawn)s withdrawn, %(waiting)s waiting for business hours."
            )
            % {
                "sent": len(run.sent),
                "retrying": len(run.retrying),
                "failed": len(run.failed),
                "withdrawn": len(run.withdrawn),
                "waiting": run.waiting,
            }
        )
        for reference in run.retrying:
            self.stderr.write(_("  %(ref)s: not sent, will try again") % {"ref": reference})
        for reference in run.failed:
            self.stderr.write(
                _("  %(ref)s: failed; send it again or phone the customer") % {"ref": reference}
            )
