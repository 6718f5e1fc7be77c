"""Data keys and the canary that ties a keyring to its database."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DataKey(models.Model):
    """One data subject's data key (DEK), wrapped by a key-encryption key from the keyring.

    Deleting the row crypto-shreds every value encrypted under it, wherever a copy lies.
    """

    subject_id = models.UUIDField(primary_key=True)
    kek_id = models.CharField(max_length=64, db_index=True)
    wrapped = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
    rewrapped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("data key")

    def __str__(self):
        return f"DataKey {self.subject_id} ({self.kek_id})"


class KeyCanary(models.Model):
    """A known value sealed under one key-encryption key and the index root. At start-up it
    must open with the configured keyring, or the keyring does not belong to this database."""

    kek_id = models.CharField(max_length=64, primary_key=True)
    sealed = models.BinaryField()
    index_check = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"KeyCanary {self.kek_id}"
