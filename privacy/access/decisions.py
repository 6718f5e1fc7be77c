"""Access decisions: the one place that says whether an actor may read a data subject, for
a named purpose, now.

A decision checks everything a read must, in this order: a known purpose; an active staff
member in a role the purpose allows (the administrator's role never reads customer data,
whatever grants exist); in a request, one of the shop's registered terminals
(privacy.staff.terminals); business hours or an open override; the latest handling rules
acknowledged; grants that fell due ended; then the subject's own rule (a grant in force, or
the manager's documented reach; not erased; for other subjects, the rule they register).
Only then is the read entry written and the gate (privacy.vault.gate) told, which is what
lets the subject's data key out of the vault. A refusal writes ``privacy.access.refused``
and raises ``AccessRefused`` (a 404 on a page: a hidden subject does not exist for this user).

Pages that select their rows with the permission condition (``grants.customers_visible_to``
and ``grants.related_visible_to``) hand the rows over as they are: each row carries the id of
the user it was selected for, so no second query asks again. Any other row is checked here.
"""

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from privacy.access import grants, hours
from privacy.audit import log as audit
from privacy.consent import purposes as consent
from privacy.consent.models import ThirdPartyProvision
from privacy.core.subjects import subject_model
from privacy.staff import accounts, roles, terminals
from privacy.vault import datakeys, gate

GRANT = "grant"  # a grant in force to the actor or their team
MANAGER_REACH = "manager"  # the manager answers requests about any customer not erased
RELEASE = "release"  # the holder of a disclosure release approved by two people
OWN_RULE = "own"  # the subject's model registers its rule (requests, incidents)


@dataclass(frozen=True)
class Purpose:
    code: str
    roles: tuple[str, ...]
    reach: str
    # The notice purpose whose suspension (利用停止) stops this use, if any.
    consent: str | None = None
    # Customer data is read in business hours only. An incident's own summary is not a
    # customer's data, and a leak is handled when it is found, at any hour.
    in_hours: bool = True


PURPOSES = {
    p.code: p
    for p in (
        Purpose("order_desk", roles.COUNTER, GRANT),
        Purpose("customer_lookup", roles.COUNTER, GRANT),
        Purpose("customer_record", roles.COUNTER, GRANT),
        Purpose("correction", roles.COUNTER, GRANT),
        Purpose("shipment", roles.COUNTER, GRANT),
        Purpose("print_pickup_list", roles.COUNTER, GRANT),
        Purpose("print_order_slip", roles.COUNTER, GRANT),
        Purpose("print_reopened", roles.COUNTER, GRANT),
        Purpose("arrival_notice", roles.COUNTER, GRANT, consent.ARRIVAL_NOTICE),
        Purpose("new_release_info", roles.COUNTER, GRANT, consent.NEW_RELEASE_INFO),
        Purpose("third_party_record", roles.COUNTER, GRANT),
        Purpose("request_handling", roles.COUNTER, OWN_RULE),
        Purpose("request_correction", (roles.MANAGER,), MANAGER_REACH),
        Purpose("disclosure", (roles.MANAGER,), MANAGER_REACH),
        Purpose("bulk_export", (roles.MANAGER,), MANAGER_REACH),
        Purpose("customer_import", (roles.MANAGER,), MANAGER_REACH),
        Purpose("third_party_review", (roles.MANAGER,), MANAGER_REACH),
        Purpose("incident", (roles.MANAGER,), OWN_RULE, in_hours=False),
        Purpose("incident_notice", (roles.MANAGER,), MANAGER_REACH),
        Purpose("disclosure_download", (), RELEASE),
    )
}


class AccessRefused(Http404):
    """The actor may not read this subject for this purpose. The message names the purpose
    and the subject's reference, never its data."""

    def __init__(self, purpose: str, reference: str, reason: str):
        self.purpose, self.reference, self.reason = purpose, reference, reason
        super().__init__(f"Access refused for {purpose} to {reference}: {reason}.")


class NotATerminal(AccessRefused):
    """The request does not come from one of the shop's registered terminals
    (privacy.staff.terminals): the page says so instead of a bare 404."""


# Subject models other than the customer register their rule here (desks: requests,
# incidents): rule(actor, subjects, purpose) returns a reason to refuse, or None.
_RULES: dict[type, Callable] = {}
_EVENTS: dict[type, str] = {}


def register(model, rule: Callable, *, event: str) -> None:
    """Let ``model``'s rows be decided on by ``rule``; their reads are logged as ``event``."""
    _RULES[model] = rule
    _EVENTS[model] = event


def _reference(subject) -> str:
    return getattr(subject, "reference", None) or str(subject.pk)


def _refuse(actor, purpose: str, subjects: list, reason: str):
    target = subjects[0] if subjects else None
    audit.record(
        "privacy.access.refused",
        target=target,
        actor=actor,
        data={"purpose": purpose, "reason": reason, "subjects": len(subjects)},
    )
    refused = NotATerminal if reason == terminals.NOT_A_TERMINAL else AccessRefused
    raise refused(purpose, _reference(target) if target is not None else "-", reason)


def refused_unseen(actor, purpose: str, pk, *, kind: str = "customer") -> None:
    """A page asked for a customer (or an order) this actor may not see, or that does not
    exist (the two look the same: 404). The refusal is logged against the id asked for."""
    data = {"purpose": purpose, "reason": "not visible"}
    if kind == "customer":
        audit.record("privacy.access.refused", actor=actor, subject_pk=pk, data=data)
    else:
        audit.record("privacy.access.refused", actor=actor, data={**data, kind: str(pk)})


def before_reading(actor, *, in_hours: bool = True) -> None:
    """The checks that do not depend on the subject: hours (or an override), the handling
    rules acknowledged, and grants that fell due ended, so none of them shows anything.
    Raises hours.OutsideOpeningHours or accounts.RulesNotAcknowledged."""
    if in_hours:
        hours.ensure_open()
    now = timezone.now()
    found = grants.reading_checks(actor.pk, now) if actor.pk is not None else []
    if not found:  # not a saved user: ask as the services do
        accounts.ensure_acknowledged(actor)
        grants.expire_due(now)
        return
    rules_pending, grant_due = found[0]
    if rules_pending:
        raise accounts.RulesNotAcknowledged
    grants.expire_due(now, any_due=bool(grant_due))  # None: no grant has an end


def _purpose(code: str) -> Purpose:
    try:
        return PURPOSES[code]
    except KeyError:
        raise ValueError(f"Unknown purpose of use: {code!r}.") from None


def _staff_may(actor, purpose: Purpose) -> str | None:
    if not grants.may_see_any(actor):
        return "not an active staff member"
    held = roles.roles_of(actor)
    if roles.ADMINISTRATOR in held:
        return "the administrator's role never reads customer data"
    if not held & set(purpose.roles):
        return "role not allowed for this purpose"
    # Terminals (issue 15): a page shows customer data only on the shop's own computers.
    return terminals.refusal()


def check_actor(actor, purpose: str) -> None:
    """The checks that do not depend on the subject, for a page that may show nothing yet
    (a search that finds nobody still needs the hours and the rules)."""
    wanted = _purpose(purpose)
    reason = _staff_may(actor, wanted)
    if reason:
        _refuse(actor, purpose, [], reason)
    before_reading(actor, in_hours=wanted.in_hours)


def decide(
    actor,
    subjects: Iterable,
    *,
    purpose: str,
    fields: list[str],
    event: str | None = None,
    subject: str = "pk",
    data: dict | None = None,
    checked: bool = False,
    release=None,
) -> list:
    """Decide that ``actor`` may read ``subjects`` for ``purpose``, log the read (``fields``
    named, one entry per subject) and open the gate for them; raise ``AccessRefused``
    otherwise, for all of them: a caller asks only for what it means to show.

    ``subject`` names the attribute holding each row's data subject (``customer_id`` for
    an order). ``checked``: the caller ran ``check_actor`` for this actor and purpose in this
    request already. ``release``: for the one-time disclosure link, the redeemed release."""
    rows = list(subjects)
    wanted = _purpose(purpose)
    if rows and _taken_already(actor, rows, subject, purpose):
        return rows  # decided and logged in this scope (a page, then the service it calls)
    if wanted.reach == RELEASE:
        reason = _released(release, rows, subject)
    else:
        reason = None if checked else _staff_may(actor, wanted)
        if reason is None and not checked:
            before_reading(actor, in_hours=wanted.in_hours)
    if reason is None and rows and wanted.reach != RELEASE:
        reason = _subject_rule(actor, rows, wanted, subject)
    if reason is not None:
        _refuse(
            actor if wanted.reach != RELEASE else None, purpose, _targets(rows, subject), reason
        )
    if rows:
        targets = _targets(rows, subject)
        audit.record_reads(
            targets,
            actor=actor,
            purpose=purpose,
            fields=fields,
            event=event or _EVENTS.get(type(targets[0]), "customers.customer.read"),
            data=data,
        )
        actor_id = getattr(actor, "pk", None) if wanted.reach != RELEASE else None
        gate.admit({t.pk for t in targets}, actor_id=actor_id, purpose=purpose)
        datakeys.hand_over(rows, subject)
    return rows


def _taken_already(actor, rows: list, subject: str, purpose: str) -> bool:
    actor_id = getattr(actor, "pk", None)
    for row in rows:
        decision = gate.admitted(_subject_id(row, subject))
        if decision is None or decision.purpose != purpose or decision.actor_id != actor_id:
            return False
    return True


def _targets(rows: list, subject: str) -> list:
    """The subjects themselves (an order's customer), each once."""
    if subject == "pk":
        return rows
    attr = subject.removesuffix("_id")
    seen = {}
    for row in rows:
        target = getattr(row, attr)
        seen.setdefault(target.pk, target)
    return list(seen.values())


def _subject_id(row, subject: str) -> uuid.UUID:
    return row.pk if subject == "pk" else getattr(row, subject)


def _subject_rule(actor, rows: list, purpose: Purpose, subject: str) -> str | None:
    model = subject_model()
    target_model = type(rows[0]) if subject == "pk" else model
    if target_model is not model:
        rule = _RULES.get(target_model)
        if rule is None:
            return f"no access rule for {target_model._meta.label}"
        return rule(actor, rows, purpose.code)
    ids = {_subject_id(row, subject) for row in rows}
    if purpose.reach == GRANT:
        proven = {
            _subject_id(row, subject)
            for row in rows
            if row.__dict__.get(grants.SELECTED_FOR) == actor.pk
        }
        unproven = ids - proven
        if unproven and len(grants.granted_among(actor.pk, unproven)) != len(unproven):
            return "no grant in force"
    elif purpose.reach == MANAGER_REACH:
        if _any_erased(_targets(rows, subject), ids):
            return "erased"
    else:
        return "purpose not for customers"
    if purpose.consent:
        for target in _targets(rows, subject):
            try:
                consent.check(target, purpose.consent)
            except consent.PurposeNotPermitted as refused:
                return str(refused)
    return None


def _provision_rule(actor, rows: list, purpose: str) -> str | None:
    """A provision record (its own key, kept past erasure) is read by the manager reviewing
    them all, or on its customer's page by whoever may read that customer now."""
    if purpose == "third_party_review":
        return None
    for row in rows:
        decision = gate.admitted(row.customer_id)
        if decision is None or decision.actor_id != actor.pk:
            return "the customer is not open to this actor"
    return None


register(ThirdPartyProvision, _provision_rule, event="privacy.third_party.read")


def _any_erased(targets: list, ids: set) -> bool:
    """Whether any of these customers is erased: from the rows themselves when they were
    loaded with ``erased_at`` (a page's, an export's), else asked of the database."""
    if all("erased_at" in target.__dict__ for target in targets):
        return any(target.erased_at is not None for target in targets)
    return len(grants.not_erased_among(ids)) != len(ids)


def _released(release, rows: list, subject: str) -> str | None:
    """The one-time link's holder reads only the customer the release names."""
    if release is None:
        return "no disclosure release"
    ids = {_subject_id(row, subject) for row in rows}
    if ids - {release.customer_id} or not grants.not_erased_among(ids):
        return "not the released customer"
    return None


def terminal_message() -> str:
    return _(
        "This device is not registered as one of the shop's terminals. Customer data is "
        "shown only on the shop's registered terminals: ask the manager to register this one."
    )


# What a command catches: each says why, naming the purpose and the subject's reference or
# id, never its data.
REFUSALS = (
    AccessRefused,
    gate.GateClosed,
    hours.OutsideOpeningHours,
    accounts.RulesNotAcknowledged,
)


def refusal_message(error: Exception) -> str:
    if isinstance(error, NotATerminal):
        return terminal_message()
    if isinstance(error, hours.OutsideOpeningHours):
        return _(
            "Customer data can be read only in business hours (%(hours)s), or while the "
            "manager's override is open."
        ) % {"hours": settings.BOOKSHOP_OPENING_HOURS}
    if isinstance(error, accounts.RulesNotAcknowledged):
        return _(
            "Acknowledge the latest handling rules (log in once) before reading customer data."
        )
    return str(error)
