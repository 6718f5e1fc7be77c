"""The one hash-chained audit log and the record of its verifications."""

from auditlog.models import AbstractLogEntry
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditLogEntry(AbstractLogEntry):
    """django-auditlog's log entry, chained by hash so that any change, gap or cut shows.

    Holds the write log (create, update, delete), the read log (access) and events such as
    logins and grants, each named by a dotted ``event``.
    """

    # Every page writes a batch of entries, and each index costs each entry a B-tree
    # insert: auditlog's indexes that no query here uses are left off (action, object_id,
    # cid) or folded (object_pk: the (object_pk, timestamp) index finds a customer's
    # entries, a pattern index the prefix search of the audit review).
    object_pk = models.CharField(max_length=255, verbose_name=_("object pk"))
    object_id = models.BigIntegerField(blank=True, null=True, verbose_name=_("object id"))
    action = models.PositiveSmallIntegerField(
        choices=AbstractLogEntry.Action.choices, verbose_name=_("action")
    )
    cid = models.CharField(max_length=255, blank=True, null=True, verbose_name=_("Correlation ID"))
    event = models.CharField(max_length=80, db_index=True, blank=True)
    seq = models.BigIntegerField(unique=True, null=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    entry_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta(AbstractLogEntry.Meta):
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log entries")
        indexes = [
            models.Index(fields=["object_pk", "timestamp"]),
            models.Index(  # object_pk LIKE 'prefix%' on PostgreSQL (a plain index on SQLite)
                fields=["object_pk"],
                name="privacy_audit_object_pk_like",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    # How a new entry joins the chain: set by privacy.audit.chain when it is imported (the
    # app's ready() imports it). The chain reads and writes this model, so the model cannot
    # import the chain without a cycle.
    append_to_chain = None

    def save(self, *args, **kwargs):
        if self._state.adding and self.seq is None:
            if self.append_to_chain is None:
                raise ImproperlyConfigured("privacy.audit.chain is not loaded: add the app.")
            self.append_to_chain([self])
            return
        raise ValueError("Audit log entries are append-only.")


class AuditVerification(models.Model):
    """The result of one run of ``verify_audit_log``, for the administrator's chain panel."""

    ran_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    entries = models.BigIntegerField()
    head_seq = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    problem = models.TextField(blank=True)

    class Meta:
        get_latest_by = "ran_at"

    def __str__(self):
        return f"AuditVerification {self.ran_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'BROKEN'}"
