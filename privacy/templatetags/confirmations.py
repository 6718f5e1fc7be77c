"""``{% load confirmations %}``: roles and teams proposed for accounts and not yet confirmed
by a second person (issue 15), shown 確認待ち on the staff list. One query per page."""

from django import template

from privacy.staff import proposals

register = template.Library()


@register.simple_tag
def pending_roles_of(staff_rows) -> dict[int, list[str]]:
    """``{% pending_roles_of staff as pending_roles %}``: account id → role labels."""
    return proposals.pending_roles(row["user"].pk for row in staff_rows)


@register.filter
def for_account(pending: dict, account_id) -> list[str]:
    """``pending_roles|for_account:row.user.pk``."""
    return pending.get(account_id, []) if pending else []
