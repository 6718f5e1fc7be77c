"""Querysets for models under the write log. ``update()`` (and so ``bulk_update()``) sends no
signals, so django-auditlog would never hear of the change: it is refused. ``delete()`` on a
queryset still sends a signal per row, which auditlog records."""

from django.db import models


class BulkWriteRefused(Exception):
    pass


class AuditedQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise BulkWriteRefused(
            f"{self.model.__name__}: bulk update() would bypass the audit log; change each "
            "object through its service, which saves it."
        )


AuditedManager = models.Manager.from_queryset(AuditedQuerySet)
