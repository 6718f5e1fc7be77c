"""``{% erasure_horizon as date %}``: the day from which an erasure made now cannot be read
from any backup (privacy.ops.erasure_date), for the pages and the disclosure package."""

import logging

from django import template

from privacy.ops import backup, erasure_date

register = template.Library()
log = logging.getLogger(__name__)


@register.simple_tag
def erasure_horizon():
    try:
        return erasure_date.backup_horizon()
    except backup.BackupError as exc:
        # A file in the backup folder cannot be opened: the date from the keys' epochs alone
        # (the backups' own expiry cannot be read), and the operator is told.
        log.warning("Erasure date without the kept backups: %s", exc)
        return erasure_date.backup_horizon(use_kept_backups=False)
