"""Issue 15: no one person gives themselves (or a puppet) access to customer data.

A role or team takes effect only when a second person confirms it; the manager's access to
a customer for themselves and a long opening outside business hours too."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from customers.models import Customer
from privacy.access import confirmations
from privacy.access import grants as access
from privacy.access.models import AccessGrant, HoursOverride
from privacy.audit.models import AuditLogEntry
from privacy.core import inbox
from privacy.staff import proposals, roles, setup_links
from privacy.staff.models import ProposalKind, ProposalStatus, SecondPersonProposal
from tests.conftest import CANARIES, customer_data, login, make_staff, order_data

TOKYO = ZoneInfo("Asia/Tokyo")


def _new_clerk(administrator):
    user, _issued = setup_links.create_account(
        by=administrator,
        username="newclerk",
        last_name="New",
        first_name="",
        role=roles.CLERK,
        valid_until=None,
        counter=True,
    )
    return user


def _role_proposals(user):
    return list(SecondPersonProposal.objects.filter(kind=ProposalKind.ROLE, account=user))


def _hidden_customer(manager, outsider_clerk):
    from customers import services
    from tests.conftest import TOLD

    hidden = services.order_create_with_customer(
        notice=TOLD,
        actor=outsider_clerk,
        customer_data=customer_data(phone="08055556666"),
        order_data=order_data(),
    ).customer
    for record in AccessGrant.objects.filter(customer=hidden):
        access.revoke(record, by=manager)
    return hidden


# --- Roles: proposed by the administrator, confirmed by the manager ----------------------


def test_a_new_counter_clerk_sees_no_customer_until_the_manager_confirms(
    client, administrator, manager, order
):
    clerk = _new_clerk(administrator)
    assert not clerk.groups.exists()  # nothing applied yet
    assert {p.group.name for p in _role_proposals(clerk)} == {
        roles.CLERK,
        roles.counter_team().name,
    }
    assert not access.visible_customers(clerk).exists()

    # The account works: it logs in, sees the approvals list, and no customer.
    login(client, clerk)
    assert client.get("/approvals/").status_code == 200
    board = client.get("/board/")
    assert order.customer.reference not in board.content.decode()
    assert client.get(f"/customers/{order.customer_id}/").status_code in (403, 404)

    # The manager sees both in the count and on 承認待ち, and confirms them.
    labels = [item.url for item in inbox.waiting_for(manager)]
    for proposal in _role_proposals(clerk):
        assert f"/confirmations/{proposal.pk}/" in labels
    manager_client = login(type(client)(), manager)
    page = manager_client.get("/approvals/").content.decode()
    for proposal in _role_proposals(clerk):
        assert proposal.reference in page
        response = manager_client.post(f"/confirmations/{proposal.pk}/confirm/")
        assert response.status_code == 302
    clerk.refresh_from_db()
    assert set(clerk.groups.values_list("name", flat=True)) == {
        roles.CLERK,
        roles.counter_team().name,
    }
    assert access.visible_customers(clerk).filter(pk=order.customer_id).exists()
    login(client, clerk)
    assert client.get(f"/customers/{order.customer_id}/").status_code == 200


def test_the_staff_list_marks_the_proposed_role_waiting(client, administrator, manager):
    clerk = _new_clerk(administrator)
    login(client, administrator)
    html = client.get("/staff/").content.decode()
    row = html[html.index(f'id="staff-{clerk.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "確認待ち" in row


def test_the_administrator_cannot_confirm_their_own_proposal(client, administrator, order):
    clerk = _new_clerk(administrator)
    proposal = _role_proposals(clerk)[0]
    login(client, administrator)
    assert inbox.waiting_for(administrator) == [] or all(
        item.kind != "second_person" for item in inbox.waiting_for(administrator)
    )
    response = client.post(f"/confirmations/{proposal.pk}/confirm/", follow=True)
    assert "別の人" in response.content.decode() or "someone else" in response.content.decode()
    assert not clerk.groups.exists()
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING


def test_another_administrator_cannot_confirm_what_an_administrator_proposed(administrator, order):
    second_admin = make_staff("admin2", roles.ADMINISTRATOR)
    clerk = _new_clerk(administrator)
    proposal = _role_proposals(clerk)[0]
    with pytest.raises(proposals.ProposalRefused, match="only the manager"):
        confirmations.decide(proposal.pk, by=second_admin, confirm=True)
    assert not clerk.groups.exists()
    assert not [i for i in inbox.waiting_for(second_admin) if i.kind == "second_person"]


def test_a_clerk_cannot_confirm_and_does_not_find_the_proposal(client, administrator, clerk):
    newcomer = _new_clerk(administrator)
    proposal = _role_proposals(newcomer)[0]
    with pytest.raises(proposals.ProposalRefused, match="Only the manager or the administrator"):
        confirmations.decide(proposal.pk, by=clerk, confirm=True)
    login(client, clerk)
    assert client.get(f"/confirmations/{proposal.pk}/").status_code == 404
    assert client.post(f"/confirmations/{proposal.pk}/confirm/").status_code == 404
    assert not newcomer.groups.exists()


def test_a_manager_never_confirms_a_role_given_to_themselves(administrator, manager):
    proposal = proposals.propose_role(manager, "night-team", by=administrator)
    assert proposal is not None
    assert not [i for i in inbox.waiting_for(manager) if i.kind == "second_person"]
    with pytest.raises(proposals.ProposalRefused, match="Nobody confirms a role given to"):
        confirmations.decide(proposal.pk, by=manager, confirm=True)
    assert not manager.groups.filter(name="night-team").exists()
    # Another manager may.
    other = make_staff("manager2", roles.MANAGER)
    confirmations.decide(proposal.pk, by=other, confirm=True)
    assert manager.groups.filter(name="night-team").exists()


def test_the_administrator_confirms_a_role_a_manager_proposed(administrator, manager):
    newcomer = make_staff("newcomer")
    proposal = proposals.propose_role(newcomer, roles.CLERK, by=manager)
    assert [i for i in inbox.waiting_for(administrator) if i.kind == "second_person"]
    confirmations.decide(proposal.pk, by=administrator, confirm=True)
    assert roles.roles_of(type(newcomer).objects.get(pk=newcomer.pk)) == {roles.CLERK}


def test_a_decided_proposal_cannot_be_decided_again(administrator, manager):
    clerk = _new_clerk(administrator)
    proposal = _role_proposals(clerk)[0]
    confirmations.decide(proposal.pk, by=manager, confirm=False)
    with pytest.raises(proposals.ProposalRefused, match="already decided"):
        confirmations.decide(proposal.pk, by=manager, confirm=True)
    assert not clerk.groups.exists()
    assert AuditLogEntry.objects.filter(event="accounts.role_refused", actor=manager).exists()


def test_a_proposal_expires_after_seven_days(administrator, manager, order):
    clerk = _new_clerk(administrator)
    proposal = _role_proposals(clerk)[0]
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        assert not [i for i in inbox.waiting_for(manager) if i.kind == "second_person"]
        with pytest.raises(proposals.ProposalRefused, match="expired"):
            confirmations.decide(proposal.pk, by=manager, confirm=True)
    assert not clerk.groups.exists()
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.EXPIRED
    assert AuditLogEntry.objects.filter(event="accounts.role_expired").exists()


def test_removing_a_role_takes_effect_at_once(client, administrator, clerk, order):
    login(client, clerk)
    assert client.get(f"/customers/{order.customer_id}/").status_code == 200
    clerk_role = clerk.groups.get(name=roles.CLERK)
    proposals.remove_membership(clerk, clerk_role, by=administrator)
    assert client.get(f"/customers/{order.customer_id}/").status_code in (403, 404)
    assert not SecondPersonProposal.objects.exists()  # nobody was asked
    assert AuditLogEntry.objects.filter(event="accounts.role_removed", actor=administrator).exists()


def test_the_administrator_role_reads_no_customer_and_is_added_at_once(administrator):
    newcomer = make_staff("it-person")
    assert proposals.propose_role(newcomer, roles.ADMINISTRATOR, by=administrator) is None
    assert roles.roles_of(type(newcomer).objects.get(pk=newcomer.pk)) == {roles.ADMINISTRATOR}


def test_every_step_is_in_the_audit_log_without_personal_data(administrator, manager, order):
    clerk = _new_clerk(administrator)
    for proposal in _role_proposals(clerk):
        confirmations.decide(proposal.pk, by=manager, confirm=True)
    proposed = AuditLogEntry.objects.filter(event="accounts.role_proposed")
    confirmed = AuditLogEntry.objects.filter(event="accounts.role_confirmed", actor=manager)
    assert proposed.count() == 2 and confirmed.count() == 2
    for entry in [*proposed, *confirmed]:
        assert entry.additional_data["proposal"].startswith("K-")
        assert "New" not in str(entry.additional_data)


# --- The manager's own access to a customer ------------------------------------------------


def test_grant_self_is_not_in_force_until_confirmed(client, manager, administrator, outsider_clerk):
    hidden = _hidden_customer(manager, outsider_clerk)
    login(client, manager)
    client.post(
        "/manager/find/",
        {"action": "grant_self", "customer": hidden.pk, "reason": "disclosure request"},
    )
    assert client.get(f"/customers/{hidden.pk}/").status_code == 404
    assert not AccessGrant.objects.filter(customer=hidden, user=manager).exists()
    # The manager sees it marked waiting where they asked.
    html = client.post(
        "/manager/find/", {"action": "search", "phone": "080-5555-6666"}
    ).content.decode()
    assert "確認待ち" in html
    proposal = SecondPersonProposal.objects.get(kind=ProposalKind.GRANT_SELF)
    # Not by themselves.
    response = client.post(f"/confirmations/{proposal.pk}/confirm/", follow=True)
    assert response.status_code == 200
    assert client.get(f"/customers/{hidden.pk}/").status_code == 404
    # The administrator sees only the reference, and confirms.
    admin_client = login(type(client)(), administrator)
    page = admin_client.get(f"/confirmations/{proposal.pk}/").content.decode()
    assert hidden.reference in page
    assert CANARIES["family_name"] not in page
    admin_client.post(f"/confirmations/{proposal.pk}/confirm/")
    assert client.get(f"/customers/{hidden.pk}/").status_code == 200
    entry = AuditLogEntry.objects.get(event="privacy.access.grant_self_confirmed")
    assert entry.actor == administrator
    assert "disclosure" not in str(entry.additional_data)


def test_a_clerk_cannot_confirm_the_managers_own_access(manager, clerk, outsider_clerk):
    hidden = _hidden_customer(manager, outsider_clerk)
    proposal, _created = confirmations.propose_grant_self(hidden, by=manager, reason="request")
    with pytest.raises(proposals.ProposalRefused):
        confirmations.decide(proposal.pk, by=clerk, confirm=True)
    assert not access.visible_customers(manager).filter(pk=hidden.pk).exists()


# --- Openings outside business hours ---------------------------------------------------------


@pytest.fixture
def shop_hours(settings):
    settings.BOOKSHOP_OPENING_HOURS = "08:00-23:00"
    settings.BOOKSHOP_OVERRIDE_CONFIRM_MINUTES = 30


def at(hour, minute=0, day=27):
    return time_machine.travel(datetime(2026, 11, day, hour, minute, tzinfo=TOKYO), tick=False)


def test_a_two_hour_opening_waits_for_a_second_person(
    shop_hours, client, manager, administrator, clerk, customer
):
    with at(23, 10):
        login(client, manager)
        response = client.post("/manager/hours/", {"reason": "stocktaking", "minutes": "120"})
        assert response.status_code == 302
        assert not HoursOverride.objects.exists()
        assert "確認待ち" in client.get("/manager/hours/").content.decode()
        clerk_client = login(type(client)(), clerk)
        assert clerk_client.get(f"/customers/{customer.pk}/").status_code == 403
        proposal = SecondPersonProposal.objects.get(kind=ProposalKind.HOURS)
        assert proposal.minutes == 120
    with at(23, 20):
        confirmations.decide(proposal.pk, by=administrator, confirm=True)
        assert clerk_client.get(f"/customers/{customer.pk}/").status_code == 200
    override = HoursOverride.objects.get()
    assert override.opened_by == manager
    assert override.ends_at - override.starts_at == timedelta(minutes=120)


def test_a_twenty_minute_opening_opens_at_once(shop_hours, client, manager, clerk, customer):
    with at(23, 10):
        login(client, manager)
        client.post("/manager/hours/", {"reason": "stocktaking", "minutes": "20"})
        assert not SecondPersonProposal.objects.exists()
        login(client, clerk)
        assert client.get(f"/customers/{customer.pk}/").status_code == 200


def test_customers_are_never_named_in_the_inbox(administrator, manager, outsider_clerk):
    hidden = _hidden_customer(manager, outsider_clerk)
    confirmations.propose_grant_self(hidden, by=manager, reason="request")
    items = [i for i in inbox.waiting_for(administrator) if i.kind == "second_person"]
    assert len(items) == 1
    customer = Customer.objects.get(pk=hidden.pk)
    assert customer.reference not in items[0].label
