"""``{% erasure_horizon as date %}``: the day from which an erasure made now cannot be read
from any backup (privacy.ops.erasure_date), for the pages and the disclosure package."""

from django import template

from privacy.ops import erasure_date

register = template.Library()


@register.simple_tag
def erasure_horizon():
    return erasure_date.stated_horizon()
