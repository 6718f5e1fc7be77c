"""When a leak must be reported to the Personal Information Protection Commission (PPC,
個人情報保護委員会), and by when. Pure functions, no database: the register and the board
call them.

Sources:
- APPI (個人情報の保護に関する法律) art. 26(1): a leak, loss or damage (漏えい等) of personal
  data, occurred or likely (おそれ), that is likely to harm people's rights and interests must
  be reported to the PPC; art. 26(2): the affected persons must be told (本人への通知).
- Enforcement Rules (個人情報保護法施行規則) art. 7: the cases that must be reported:
  (1) sensitive data (要配慮個人情報) is involved; (2) data whose misuse may cause property
  damage (card numbers, bank account with password); (3) the leak may have been caused by
  an act with an unfair purpose (不正の目的: unauthorized access, theft by an insider);
  (4) more than 1,000 persons (千人を超える). The parenthesis in item (1) excludes, for the
  whole article, data protected by advanced encryption or a like measure (高度な暗号化その他の
  個人の権利利益を保護するために必要な措置); the PPC guidelines require that the key did not
  leak as well.
- Rules art. 8(1): a preliminary report (速報) promptly (速やかに) after learning of it; the
  PPC guidelines (通則編 3-5-3-3) read this as about 3 to 5 days from when the business
  became aware. Art. 8(2): a final report (確報) within 30 days of the day it learnt of it,
  60 days in case (3). When everything is known at the first report, one report may serve
  as both (guidelines 3-5-3-3), so a recorded final report also settles the preliminary one.
- Rules art. 10: the notice to the persons, promptly according to the situation, in the
  same cases as the report; where a notice is impossible, a public announcement and a
  contact point may stand in for it (APPI art. 26(2) proviso).

Counting: days run from the calendar date of discovery in Japan (Asia/Tokyo), whatever the
shop's display time zone. The day of discovery is day 1 and a deadline ends at the end of its
day, Japan time: a leak found at 23:30 on 1 March has its final report due by the end of
30 March (60 days: 29 April). This is the stricter of the two readings: under Civil Code
art. 140 the first day would not count and every deadline would fall a day later. A register
that warns a day early costs nothing; one that warns a day late can cost a breach of the
Rules. Weekends and holidays count; nothing here moves a deadline to the next working day.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

JAPAN = ZoneInfo("Asia/Tokyo")

OVER_PERSONS = 1000  # art. 7(4): more than 1,000, so 1,001 people and up
PRELIMINARY_AIM_DAYS = 3
PRELIMINARY_LIMIT_DAYS = 5
FINAL_DAYS = 30
FINAL_DAYS_MALICIOUS = 60


class Category(models.TextChoices):
    SENSITIVE = "sensitive", _("Sensitive data (要配慮個人情報), Rules art. 7(1)")
    PROPERTY_DAMAGE = (
        "property_damage",
        _("Data whose misuse may cause financial loss, Rules art. 7(2)"),
    )
    MALICIOUS = "malicious", _("May have been done with an unfair purpose (不正の目的), art. 7(3)")
    OVER_THOUSAND = "over_thousand", _("More than 1,000 people, Rules art. 7(4)")


def over_thousand(*, declared: bool, affected_count: int) -> bool:
    """Case (4): the manager says so (the count may not be known yet), or the listed
    customers are more than 1,000."""
    return declared or affected_count > OVER_PERSONS


def categories(
    *, sensitive: bool, property_damage: bool, malicious: bool, more_than_thousand: bool
) -> list[Category]:
    """The cases of Rules art. 7 that the incident falls under, in the article's order."""
    found = [
        (sensitive, Category.SENSITIVE),
        (property_damage, Category.PROPERTY_DAMAGE),
        (malicious, Category.MALICIOUS),
        (more_than_thousand, Category.OVER_THOUSAND),
    ]
    return [category for present, category in found if present]


def report_required(found: list[Category], *, encrypted_with_key_safe: bool) -> bool:
    """A report to the PPC and a notice to the persons are required when any case of art. 7
    applies, unless the data was protected by advanced encryption whose key did not leak."""
    return bool(found) and not encrypted_with_key_safe


def discovery_day(discovered_at: datetime) -> date:
    """The calendar date in Japan on which the shop learnt of the leak: day 1."""
    return discovered_at.astimezone(JAPAN).date()


def today() -> date:
    return timezone.now().astimezone(JAPAN).date()


def end_of(day: date) -> datetime:
    """The moment a deadline on ``day`` passes: midnight at its end, Japan time."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=JAPAN)


@dataclass(frozen=True)
class Deadlines:
    discovered_on: date
    preliminary_aim: date  # 3 days: what to aim for
    preliminary_limit: date  # 5 days: the outer edge of "promptly" in the guidelines
    final: date
    final_days: int


def deadlines(discovered_at: datetime, *, malicious: bool) -> Deadlines:
    day1 = discovery_day(discovered_at)
    final_days = FINAL_DAYS_MALICIOUS if malicious else FINAL_DAYS

    def nth_day(n: int) -> date:
        return day1 + timedelta(days=n - 1)

    return Deadlines(
        discovered_on=day1,
        preliminary_aim=nth_day(PRELIMINARY_AIM_DAYS),
        preliminary_limit=nth_day(PRELIMINARY_LIMIT_DAYS),
        final=nth_day(final_days),
        final_days=final_days,
    )


def days_left(due: date, *, on: date | None = None) -> int:
    """0 on the last day, negative once the deadline has passed."""
    return (due - (on or today())).days
