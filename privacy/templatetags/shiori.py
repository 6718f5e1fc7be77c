import phonenumbers
from django import template

from privacy.staff import two_person

register = template.Library()


@register.filter
def may_decide(proposer_id, user) -> bool:
    """``{% if item.proposed_by_id|may_decide:user %}``: the two-person rule, for a page."""
    return two_person.may_decide(proposer_id, user)


@register.filter
def staff_name(user) -> str:
    """Family name first, as staff are called in the shop; the username when no name is set."""
    if user is None:
        return ""
    name = f"{user.last_name} {user.first_name}".strip()
    return name or user.username


@register.filter
def phone_display(digits: str) -> str:
    """09012345678 as 090-1234-5678."""
    if not digits:
        return ""
    try:
        parsed = phonenumbers.parse(digits, "JP")
    except phonenumbers.NumberParseException:
        return digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
