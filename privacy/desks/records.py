"""The access review (アクセス権の見直し): everyone with an account, what they may see and
whether they still use it, for the manager's periodic review.

Customers appear by their short reference only (C-XXXXXXXX, from the grant's customer id:
no customer row is read, nothing is decrypted). The page costs the same few queries however
many people or grants there are: accounts with their groups, the grants in force (two
grouped reads), and the last customer read of each person (one aggregate over the audit
log's read entries)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from privacy.access.models import AccessGrant
from privacy.audit import log as audit
from privacy.audit.models import AuditLogEntry
from privacy.audit.review import CUSTOMER_READ
from privacy.staff import accounts, roles
from privacy.staff.records import contractors
from privacy.staff.records.models import AccessReview


def customer_reference(customer_id) -> str:
    """A customer's short reference (as ``Customer.reference``) from its id alone."""
    return f"C-{customer_id.hex[:8].upper()}"


@dataclass
class Person:
    user: object
    roles: list[str]
    teams: list[str]
    references: list[str] = field(default_factory=list)  # customers granted to them by name
    team_grants: int = 0  # customers their teams are granted
    last_login: datetime | None = None
    last_read: datetime | None = None
    unused: bool = False
    contractor: object = None

    @property
    def grant_count(self) -> int:
        return len(self.references)


def _in_force(now):
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def people(now=None) -> list[Person]:
    """Every account, active ones first, each with its roles, teams, grants in force, last
    login and last customer read; ``unused`` flags an active account with no login for
    ``BOOKSHOP_UNUSED_ACCOUNT_DAYS`` (counted from its creation when it never logged in)."""
    now = now or timezone.now()
    unused_before = now - timedelta(days=settings.BOOKSHOP_UNUSED_ACCOUNT_DAYS)
    users = list(
        get_user_model()
        .objects.select_related("contractor_link__contractor")
        .prefetch_related("groups")
        .order_by("-is_active", "username")
    )
    direct = defaultdict(set)
    for user_id, customer_id in AccessGrant.objects.filter(
        _in_force(now), user__isnull=False
    ).values_list("user_id", "customer_id"):
        direct[user_id].add(customer_id)
    by_team = dict(
        AccessGrant.objects.filter(_in_force(now), group__isnull=False)
        .values("group_id")
        .annotate(customers=Count("customer_id", distinct=True))
        .values_list("group_id", "customers")
    )
    last_reads = dict(
        AuditLogEntry.objects.filter(event=CUSTOMER_READ, actor_id__isnull=False)
        .values("actor_id")
        .annotate(last=Max("timestamp"))
        .values_list("actor_id", "last")
    )
    found = []
    for user in users:
        groups = list(user.groups.all())
        role_names = [g.name for g in groups if g.name in roles.ALL]
        teams = [g for g in groups if g.name not in roles.ALL]
        link = getattr(user, "contractor_link", None)
        last_used = user.last_login or user.date_joined
        found.append(
            Person(
                user=user,
                roles=[roles.group_label(name) for name in sorted(role_names)],
                teams=[roles.group_label(team.name) for team in teams],
                references=sorted(customer_reference(c) for c in direct.get(user.pk, ())),
                team_grants=sum(by_team.get(team.pk, 0) for team in teams),
                last_login=user.last_login,
                last_read=last_reads.get(user.pk),
                unused=user.is_active and last_used < unused_before,
                contractor=link.contractor if link else None,
            )
        )
    return found


def recent_reviews(limit: int = 12):
    return AccessReview.objects.select_related("reviewed_by")[:limit]


def deactivate_ended_contracts(today=None) -> int:
    """Deactivate every active account whose contractor's contract has ended (its sessions
    end too): each in the log, with the contractor and the contract's last day. Run daily by
    ``expire_access``; the login refuses such an account from the day after anyway."""
    count = 0
    ended = contractors.ended_accounts(today).select_related("contractor_link__contractor")
    for user in ended:
        contractor = user.contractor_link.contractor
        with transaction.atomic():
            accounts.deactivate(user, by=None)
            audit.record(
                "records.contractor.account_ended",
                target=user,
                data={
                    "contractor": contractor.pk,
                    "contract_ends_on": contractor.contract_ends_on.isoformat(),
                },
            )
        count += 1
    return count
