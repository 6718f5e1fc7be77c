"""Purpose limitation: every use of personal data names its purpose, and a use the customer
was not told of, did not opt into, or has suspended is refused."""

import datetime
import uuid

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from privacy.audit import log as audit
from privacy.consent.models import NoticeRecord, PurposeNotice, PurposeSuspension
from privacy.core.prepared import prepared

ORDER_CONTACT = "order_contact"
ARRIVAL_NOTICE = "arrival_notice"
NEW_RELEASE_INFO = "new_release_info"

DEFAULT_PURPOSES = [
    {
        "code": ORDER_CONTACT,
        "ja": "取り寄せ注文の受付、取次への発注、ご本人確認とお渡し",
        "en": "Taking, ordering, and handing over special orders",
        "optional": False,
    },
    {
        "code": ARRIVAL_NOTICE,
        "ja": "ご注文品の入荷のご連絡（電話・メール）",
        "en": "Telling you that your order has arrived (phone or email)",
        "optional": False,
    },
    {
        "code": NEW_RELEASE_INFO,
        "ja": "新刊・イベントのご案内",
        "en": "News of new releases and events",
        "optional": True,
    },
]


DEFAULT_TEXT_JA = (
    "当店は、お客様の個人情報を以下の目的のためにのみ利用します。"
    "法令に基づく場合を除き、ご本人の同意なく第三者に提供することはありません。"
    "開示・訂正・利用停止などのご請求は、店頭または当店ウェブサイトのプライバシーページから受け付けます。"
)
DEFAULT_TEXT_EN = (
    "We use your personal data only for the purposes below. We give it to no third party "
    "without your consent unless the law requires it. You may ask to see, correct or stop the "
    "use of your data at the counter or through the privacy page of our website."
)


def ensure_default_notice(model=PurposeNotice) -> None:
    """A first notice, so the shop can take orders from day one (a migration creates it);
    the manager publishes the shop's own wording as the next version whenever ready."""
    if not model.objects.exists():
        model.objects.create(
            version=1,
            text_ja=DEFAULT_TEXT_JA,
            text_en=DEFAULT_TEXT_EN,
            purposes=DEFAULT_PURPOSES,
            effective_from=datetime.date(2000, 1, 1),  # in force from before any order
            published_at=timezone.now(),
        )


class PurposeNotPermitted(Exception):
    """A use of personal data outside what the customer was told, chose, or left unsuspended."""


NOT_TOLD = gettext_lazy("This customer has not been told of this use of their data (%(purpose)s).")
NOT_CHOSEN = gettext_lazy("This customer did not agree to this use of their data (%(purpose)s).")
SUSPENDED = gettext_lazy("This customer asked us to stop this use of their data (%(purpose)s).")


@prepared(today=datetime.date)
def _notice_in_force(today):
    return PurposeNotice.objects.filter(
        published_at__isnull=False, effective_from__lte=today
    ).order_by("-version")[:1]


def current_notice() -> PurposeNotice | None:
    found = _notice_in_force(today=timezone.localdate())
    return found[0] if found else None


def notice_in_force_id(today: datetime.date):
    """An expression: the id of the notice in force on ``today`` (None before the first)."""
    from django.db.models import Subquery

    return Subquery(_notice_in_force.build(today).values("pk"))


def suspension_exists(customer_column: str = "pk"):
    """An expression, true when the customer named by ``customer_column`` has suspended a
    use of their data."""
    from django.db.models import Exists, OuterRef

    return Exists(
        PurposeSuspension.objects.filter(customer=OuterRef(customer_column), lifted_at__isnull=True)
    )


# Not a purpose of use but the customer's right to stop provision to third parties
# (第三者提供の停止, APPI art. 35(3)); suspended the same way, checked by privacy.third_party.
THIRD_PARTY = "third_party_provision"


def purpose_label(code: str, notice: PurposeNotice | None = None) -> str:
    if code == THIRD_PARTY:
        return str(gettext_lazy("Giving the data to third parties"))
    notice = notice or current_notice()
    language = "ja" if translation.get_language() == "ja" else "en"
    for purpose in notice.purposes if notice else DEFAULT_PURPOSES:
        if purpose["code"] == code:
            return purpose[language]
    return code


def latest_record(customer) -> NoticeRecord | None:
    return customer.notice_records.select_related("notice").order_by("-told_at").first()


_UNKNOWN = object()


def needs_notice(customer, *, records: list | None = None, in_force_id=_UNKNOWN) -> bool:
    """True when the customer was never told, or told under a notice that lacks a purpose
    of the current one (re-notice). ``records``: the customer's notice records, newest first
    and with their notice, when the caller has already loaded them (saves a query).
    ``in_force_id``: the id of the notice in force, when the caller read it (a customer told
    under that very notice needs no query more)."""
    if records is not None:
        records = records[:1] or [None]
    record = latest_record(customer) if records is None else records[0]
    if record is None:
        return True
    if in_force_id is not _UNKNOWN and in_force_id in (None, record.notice_id):
        return False
    notice = current_notice()
    return notice is not None and not notice.codes <= record.notice.codes


@transaction.atomic
def record_notice(customer, *, method: str, choices: dict, by, notice=None) -> NoticeRecord:
    """The clerk told the customer the current purposes, in this way, and they chose so."""
    notice = notice or current_notice()
    if notice is None:
        raise PurposeNotPermitted(
            _("No purpose notice is published yet; the manager must publish one.")
        )
    # A use the customer asked to stop stays stopped, and is recorded as "no": telling them a
    # new notice is not asking again (only lifting the stop, on their request, resumes it).
    stopped = suspended_purposes(customer) if customer.pk else set()
    clean_choices = {
        code: bool(choices.get(code)) and code not in stopped for code in notice.optional_codes
    }
    record = NoticeRecord.objects.create(
        customer=customer, notice=notice, method=method, choices=clean_choices, told_by=by
    )
    audit.record(
        "privacy.notice.recorded",
        target=customer,
        actor=by,
        data={"version": notice.version, "method": method, "choices": clean_choices},
    )
    return record


def check(customer, purpose: str) -> None:
    """Refuse a use of the customer's data for ``purpose`` unless told, chosen, not suspended."""
    label = {"purpose": purpose_label(purpose)}
    record = latest_record(customer)
    if record is None or purpose not in record.notice.codes:
        raise PurposeNotPermitted(NOT_TOLD % label)
    if purpose in record.notice.optional_codes and not record.choices.get(purpose):
        raise PurposeNotPermitted(NOT_CHOSEN % label)
    if PurposeSuspension.objects.filter(
        customer=customer, purpose=purpose, lifted_at__isnull=True
    ).exists():
        raise PurposeNotPermitted(SUSPENDED % label)


@prepared(customer_id=uuid.UUID)
def _suspended(customer_id):
    return PurposeSuspension.objects.filter(
        customer=customer_id, lifted_at__isnull=True
    ).values_list("purpose", flat=True)


def suspended_purposes(customer) -> set[str]:
    return set(_suspended(customer_id=customer.pk))


@prepared(customer_id=uuid.UUID)
def _notice_records(customer_id):
    return (
        NoticeRecord.objects.filter(customer=customer_id)
        .select_related("notice", "told_by")
        .order_by("-told_at")
    )


def notice_records(customer) -> list[NoticeRecord]:
    """How and when the customer was told the purposes, newest first, with each notice."""
    return _notice_records(customer_id=customer.pk)


@transaction.atomic
def publish_notice(
    *, by, text_ja: str, text_en: str, purposes: list[dict], effective_from
) -> PurposeNotice:
    """A new version of the notice; older versions stay readable."""
    latest = PurposeNotice.objects.order_by("-version").first()
    notice = PurposeNotice.objects.create(
        version=(latest.version + 1) if latest else 1,
        text_ja=text_ja,
        text_en=text_en,
        purposes=purposes,
        effective_from=effective_from,
        published_at=timezone.now(),
        published_by=by,
    )
    audit.record(
        "privacy.notice.published", target=notice, actor=by, data={"version": notice.version}
    )
    return notice


def customers_to_renotify(queryset):
    """Customers told under a notice that lacks a purpose of the current one (or never told)."""
    notice = current_notice()
    if notice is None:
        return queryset.none()
    covering = PurposeNotice.objects.filter(version__lte=notice.version)
    covering_ids = [n.pk for n in covering if notice.codes <= n.codes]
    told_fully = NoticeRecord.objects.filter(notice_id__in=covering_ids).values("customer_id")
    return queryset.exclude(pk__in=told_fully)
