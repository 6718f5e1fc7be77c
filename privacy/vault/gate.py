"""The gate: the one place where a data subject's key leaves the vault.

A key is released (``check``) only to a scope that holds an access decision for that subject:
``admit`` is called by ``privacy.access.decisions`` once it has checked the actor's role, the
grant, the hours, the handling rules and the purpose, and written the read entry. A new
subject's key goes to the scope that creates it. Code that reads without a decision gets
``GateClosed`` (and the audit log a ``privacy.gate.refused`` event, through ``refused``),
never plaintext.

Work inside the vault that never hands plaintext out (rewrapping keys, recomputing blind
indexes, comparing a search's candidates) does not pass the gate: see ``datakeys._vault_only``.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.dispatch import Signal

from privacy.core import context

# Sent with ``subject_id`` and ``actor`` when a key is refused; the audit layer records it.
refused = Signal()


class GateClosed(PermissionError):
    """A subject's data was asked for without an access decision in this scope."""

    def __init__(self, subject_id, reason: str = "no access decision"):
        self.subject_id = subject_id
        super().__init__(
            f"Data of subject {subject_id} refused: {reason} in this scope. Take one through "
            "privacy.access.decisions (actor, subject, purpose) before reading."
        )


@dataclass(frozen=True)
class Decision:
    actor_id: int | None
    purpose: str


def _scope():
    scope = context.current()
    if scope is None:
        raise GateClosed("-", "no privacy scope (privacy.core.context.scope)")
    return scope


def admit(subject_ids: Iterable[uuid.UUID], *, actor_id: int | None, purpose: str) -> None:
    """Record that a decision for these subjects was taken (and its read entry written).
    Only ``privacy.access.decisions`` and the key's own creation call this."""
    decisions = _scope().decisions
    decision = Decision(actor_id, purpose)
    for subject_id in subject_ids:
        decisions[subject_id] = decision


def admitted(subject_id) -> Decision | None:
    scope = context.current()
    return scope.decisions.get(subject_id) if scope is not None else None


def _actor_id(scope):
    """The scope's acting user's id, asked once per scope (the request's user is lazy)."""
    acting = scope.__dict__.get("_acting_id", _UNSET)
    if acting is _UNSET:
        actor = scope.actor
        authenticated = getattr(actor, "is_authenticated", False)
        acting = getattr(actor, "pk", None) if authenticated else None
        if actor is not None:  # settled: a command's actor, or a request's user
            scope.__dict__["_acting_id"] = acting
    return acting


_UNSET = object()


def check(subject_id) -> Decision:
    """The decision that lets this scope have the subject's key; ``GateClosed`` if none, or
    if it was taken for someone other than the scope's actor."""
    scope = context.current()
    decision = scope.decisions.get(subject_id) if scope is not None else None
    if decision is not None:
        acting = _actor_id(scope)
        if acting is None or decision.actor_id is None or acting == decision.actor_id:
            return decision
    reason = "no privacy scope" if scope is None else "no access decision"
    refused.send(sender=GateClosed, subject_id=subject_id, actor=scope.actor if scope else None)
    raise GateClosed(subject_id, reason)


def forget(subject_id) -> None:
    """The subject's key is gone (erasure): no decision keeps it reachable."""
    scope = context.current()
    if scope is not None:
        scope.decisions.pop(subject_id, None)
        scope.data_keys.pop(subject_id, None)
