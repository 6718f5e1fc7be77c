"""The outbox of arrival-notice mails: never lost, never kept in clear.

A clerk marks an order "customer notified, by email". That step and a row of this outbox are
saved in one transaction: both or neither. A worker (``python manage.py send_outbox``, once
from cron or ``--loop`` as a daemon) sends what is due, and retries what the mail server
could not take after BOOKSHOP_OUTBOX_RETRY_MINUTES (1, 5, 15, 60 minutes); after the last try
the notice is failed, and the order's card says so, with two ways out: send it again, or
phone the customer (recorded as told by phone, in the audit log).

Why not django-post-office or django-mailer: both store the rendered message (the customer's
name, address and the book, which may tell their health or beliefs) in a database table in
plaintext, and Shiori keeps no personal data in clear in the database. Encrypting their rows
with the customer's data key would take that key outside any access decision, and a queued
copy of the name and address would escape a correction or an erasure made while it waits.

So an outbox row holds no personal data at all: the order's id, the kind of mail, who queued
it, its state (queued, sent, failed, withdrawn), the attempts, the time of the next one and the
class name of the last error (never its message: an SMTP refusal quotes the address). At send
time the worker opens a privacy scope as the clerk who queued the mail and asks the gate for a
decision (purpose ``arrival_notice``: role, grant, business hours, handling rules, the
customer's consent), exactly as the clerk would, then renders the template and sends. What is
sent is the record as it stands then; a customer erased or who asked us to stop gets nothing.

Outside business hours no decision may be taken, so the worker waits: it tries nothing and
counts no attempt. A refusal by the gate (the grant ended, the customer asked us to stop, the
clerk left) fails the notice at once, since waiting would not change it.

Delivery is at least once: a worker that dies after the server took a mail but before it
recorded it sends it again once its claim (LEASE) runs out. Logs, exceptions, the command's
output and the audit log name the order's reference and the error's class, never a name or
an address.
"""

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from customers.models import (
    ContactChannel,
    NoticeMail,
    OrderStatus,
    OutboxMessage,
    SpecialOrder,
)
from privacy.access import decisions, hours
from privacy.audit import log as audit
from privacy.core import context
from privacy.staff import accounts

logger = logging.getLogger("shiori.outbox")

# How long a worker holds a message it is sending (longer than the SMTP timeout).
LEASE = timedelta(minutes=10)
NOTICE_FIELDS = ["family_name", "given_name", "email", "title", "isbn"]


class NoAddress(Exception):
    """The customer's email address was removed after the notice was queued."""


class Withdrawn(Exception):
    """The order moved on (picked up, cancelled, told by phone): the mail is not needed."""


@dataclass
class Run:
    """What one pass of the worker did: order references only."""

    sent: list = field(default_factory=list)
    retrying: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    withdrawn: list = field(default_factory=list)
    waiting: int = 0  # due, but the shop is closed: nothing was tried

    @property
    def had_failures(self) -> bool:
        return bool(self.retrying or self.failed)


def queue_arrival_notice(*, order: SpecialOrder, actor) -> OutboxMessage:
    """Queue the arrival notice of ``order``. The caller holds the order's transaction, so
    the step and its mail are saved together or not at all."""
    withdraw(order)
    return OutboxMessage.objects.create(
        order=order, queued_by=actor, next_attempt_at=timezone.now()
    )


def withdraw(order: SpecialOrder) -> int:
    """Mails of ``order`` still waiting (or failed) will not be sent."""
    return OutboxMessage.objects.filter(
        order=order, status__in=[NoticeMail.QUEUED, NoticeMail.FAILED]
    ).update(status=NoticeMail.WITHDRAWN, next_attempt_at=None)


def retry_delays() -> list[timedelta]:
    return [timedelta(minutes=m) for m in settings.BOOKSHOP_OUTBOX_RETRY_MINUTES]


def due_ids(now=None, limit: int = 100) -> list:
    now = now or timezone.now()
    return list(
        OutboxMessage.objects.filter(status=NoticeMail.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def send_due(*, limit: int = 100) -> Run:
    """Send every mail that is due. Outside business hours nothing is tried."""
    run = Run()
    if not hours.is_open():
        run.waiting = len(due_ids(limit=limit))
        return run
    for message_id in due_ids(limit=limit):
        message = _claim(message_id)
        if message is not None:
            _send(message, run)
    return run


def _claim(message_id) -> OutboxMessage | None:
    """Take one due message for this worker: the attempt is counted and the message is
    hidden from other workers for LEASE. None if another worker took it first."""
    now = timezone.now()
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .select_related("queued_by")
            .filter(pk=message_id, status=NoticeMail.QUEUED, next_attempt_at__lte=now)
            .first()
        )
        if message is None:
            return None
        message.attempts += 1
        message.last_attempt_at = now
        message.next_attempt_at = now + LEASE
        message.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    return message


def _send(message: OutboxMessage, run: Run) -> None:
    with context.scope(actor=message.queued_by):
        order = SpecialOrder.objects.select_related("customer").get(pk=message.order_id)
        reference = order.reference
        try:
            _deliver(message, order)
        except hours.OutsideOpeningHours:
            _release(message)  # closed between the check and now: not an attempt
            run.waiting += 1
        except Withdrawn:
            _finish(message, order, NoticeMail.WITHDRAWN)
            run.withdrawn.append(reference)
        except (decisions.AccessRefused, NoAddress, smtplib.SMTPRecipientsRefused) as error:
            # Will not change by waiting: the clerk sends again or phones.
            _failed(message, order, error, final=True)
            run.failed.append(reference)
        except (smtplib.SMTPException, OSError, accounts.RulesNotAcknowledged) as error:
            final = _failed(message, order, error, final=False)
            (run.failed if final else run.retrying).append(reference)
        except Exception as error:  # noqa: BLE001 - one bad message must not stop the others
            final = _failed(message, order, error, final=False)
            (run.failed if final else run.retrying).append(reference)
        else:
            _finish(message, order, NoticeMail.SENT)
            run.sent.append(reference)


def _deliver(message: OutboxMessage, order: SpecialOrder) -> None:
    if order.status != OrderStatus.NOTIFIED or order.notified_channel != ContactChannel.EMAIL:
        raise Withdrawn
    decisions.decide(
        message.queued_by,
        [order],
        purpose="arrival_notice",
        fields=NOTICE_FIELDS,
        subject="customer_id",
    )
    customer = order.customer
    if not customer.email:
        raise NoAddress
    with translation.override("ja"):
        body = render_to_string(
            "customers/mail/arrival_notice.txt",
            {"order": order, "customer": customer, "shop_name": settings.BOOKSHOP_SHOP_NAME},
        )
        subject = _("Your special order has arrived")
    # One recipient, the stored address; no CC or BCC; nobody can type an address here.
    EmailMessage(subject=subject, body=body, to=[customer.email]).send(fail_silently=False)


def _release(message: OutboxMessage) -> None:
    with transaction.atomic():
        OutboxMessage.objects.filter(pk=message.pk, status=NoticeMail.QUEUED).update(
            attempts=max(message.attempts - 1, 0), next_attempt_at=timezone.now()
        )


def _set_order(order_id, state: str) -> SpecialOrder:
    order = SpecialOrder.objects.select_for_update().select_related("customer").get(pk=order_id)
    order.notice_mail = state
    order.save(update_fields=["notice_mail", "updated_at"])
    return order


def _finish(message: OutboxMessage, order: SpecialOrder, state: str) -> None:
    with transaction.atomic():
        current = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if current.status == NoticeMail.WITHDRAWN and state != NoticeMail.SENT:
            return
        current.status = state
        current.next_attempt_at = None
        current.last_error = ""
        if state == NoticeMail.SENT:
            current.sent_at = timezone.now()
        current.save()
        locked = _set_order(order.pk, state)
        if state != NoticeMail.SENT:
            return
        audit.record(
            "customers.order.notice_sent",
            target=locked.customer,
            actor=message.queued_by,
            data={"order": order.reference, "channel": "email", "attempts": current.attempts},
        )
    logger.info("Arrival notice for %s sent (attempt %s).", order.reference, current.attempts)


def _failed(message: OutboxMessage, order: SpecialOrder, error: Exception, *, final: bool):
    """Record a failed attempt: try again later, or, after the last delay, fail the notice.
    Returns whether the notice is now failed."""
    error_class = type(error).__name__
    delays = retry_delays()
    with transaction.atomic():
        current = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if current.status != NoticeMail.QUEUED:
            return current.status == NoticeMail.FAILED
        current.last_error = error_class[:80]
        final = final or current.attempts > len(delays)
        if final:
            current.status = NoticeMail.FAILED
            current.next_attempt_at = None
        else:
            started = current.last_attempt_at or timezone.now()
            current.next_attempt_at = started + delays[current.attempts - 1]
        current.save(update_fields=["status", "last_error", "next_attempt_at"])
        if final:
            locked = _set_order(order.pk, NoticeMail.FAILED)
            audit.record(
                "customers.order.notice_failed",
                target=locked.customer,
                actor=message.queued_by,
                data={
                    "order": order.reference,
                    "channel": "email",
                    "attempts": current.attempts,
                    "error": error_class,
                },
            )
    if final:
        logger.warning(
            "Arrival notice for %s failed after %s attempts (%s); the order's card offers to "
            "send it again or to phone.",
            order.reference,
            current.attempts,
            error_class,
        )
    else:
        logger.warning(
            "Arrival notice for %s not sent (%s); next try at %s.",
            order.reference,
            error_class,
            timezone.localtime(current.next_attempt_at).strftime("%H:%M"),
        )
    return final
