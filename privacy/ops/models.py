"""What the scheduler (``privacy.ops.schedule``) knows of each job's last run: the
administrator's inbox reads it on every page, so it is one small row per job, not a search of
the audit log. The audit log keeps the history (``privacy.job.ran`` / ``privacy.job.failed``)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ScheduledJob(models.Model):
    name = models.CharField(_("job"), max_length=40, primary_key=True)
    # When the scheduler first knew the job: a job that never ran is late from here on.
    known_since = models.DateTimeField(_("known since"))
    last_started = models.DateTimeField(_("last started"), null=True, blank=True)
    last_finished = models.DateTimeField(_("last finished"), null=True, blank=True)
    # The exit status of the step that ended the run; None when it was killed (time limit,
    # the scheduler stopping) or could not be started.
    last_exit_status = models.IntegerField(_("last exit status"), null=True, blank=True)
    last_ok = models.BooleanField(_("last run succeeded"), default=True)
    last_success = models.DateTimeField(_("last success"), null=True, blank=True)

    class Meta:
        verbose_name = _("scheduled job")
        verbose_name_plural = _("scheduled jobs")

    def __str__(self):
        return self.name
