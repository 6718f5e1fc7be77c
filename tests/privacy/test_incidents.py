"""The incident register (漏えい等): deadlines from the discovery date, when a report is
required, the manager's board, the administrator's view without names, notices, closing."""

from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import translation
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from customers import services as customer_services
from customers.models import Customer
from privacy.audit.models import AuditLogEntry
from privacy.incidents import rules, services
from privacy.incidents.models import AffectedCustomer, Incident, IncidentStatus
from tests.conftest import CANARIES, TOLD, customer_data, login, order_data

JST = rules.JAPAN
SUMMARY = "レジ横の注文控えが紛失Qq71"
# 10:00 on 2 March 2026, Japan time: the clock for most tests.
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=JST)


def form(**changes):
    data = {"discovered_at": "2026-03-01T23:30", "summary": SUMMARY}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not False}


def new_incident(client, **changes) -> Incident:
    response = client.post("/manager/incidents/new/", form(**changes))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Incident.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])


def record(by, *, discovered_at=None, **classification) -> Incident:
    return services.record(
        by=by,
        discovered_at=discovered_at or NOW - timedelta(hours=1),
        summary=SUMMARY,
        **classification,
    )


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


# Deadlines -----------------------------------------------------------------------------


def test_deadlines_count_from_the_day_of_discovery_in_japan(manager):
    with time_machine.travel(NOW):
        boss = login(Client(), manager)
        incident = new_incident(boss, sensitive_data="on")
        # Found at 23:30 on 1 March: day 1 is 1 March, whatever the time of recording.
        assert incident.discovered_at == datetime(2026, 3, 1, 23, 30, tzinfo=JST)
        deadlines = incident.deadlines
        assert deadlines.discovered_on == date(2026, 3, 1)
        assert deadlines.preliminary_aim == date(2026, 3, 3)  # about 3 days: 1, 2 and 3 March
        assert deadlines.preliminary_limit == date(2026, 3, 5)  # 5 at the latest
        assert deadlines.final == date(2026, 3, 30)  # the 30th day, counting 1 March
        html = page(boss, f"/manager/incidents/{incident.pk}/")
        assert "2026/03/30" in html and "2026/03/05" in html
        assert "残り28日" in html  # the final report, seen on 2 March


def test_a_malicious_leak_gives_sixty_days_for_the_final_report(manager):
    with time_machine.travel(NOW):
        boss = login(Client(), manager)
        incident = new_incident(boss, malicious="on")
        assert incident.deadlines.final == date(2026, 4, 29)  # the 60th day, counting 1 March
        assert incident.deadlines.final_days == 60
        # The preliminary report does not move: still 3 to 5 days.
        assert incident.deadlines.preliminary_limit == date(2026, 3, 5)


def test_the_facts_change_and_the_deadline_follows(manager):
    with time_machine.travel(NOW):
        boss = login(Client(), manager)
        incident = new_incident(boss, property_damage="on")
        assert incident.deadlines.final == date(2026, 3, 30)
        response = boss.post(
            f"/manager/incidents/{incident.pk}/edit/",
            form(property_damage="on", malicious="on", discovered_at="2026-02-27T09:00"),
        )
        assert response.status_code == 302
        incident.refresh_from_db()
        assert incident.deadlines.final == date(2026, 4, 27)  # the 60th day, counting 27 Feb


def test_the_day_of_discovery_is_the_date_in_japan_not_in_utc():
    # 00:30 on 2 March in Tokyo is still 1 March in UTC.
    found = datetime(2026, 3, 1, 15, 30, tzinfo=rules.ZoneInfo("UTC"))
    deadlines = rules.deadlines(found, malicious=False)
    assert deadlines.discovered_on == date(2026, 3, 2)
    assert deadlines.final == date(2026, 3, 31)
    assert rules.end_of(deadlines.final) == datetime(2026, 4, 1, 0, 0, tzinfo=JST)


# When a report is required -------------------------------------------------------------


@pytest.mark.parametrize(
    ("classification", "required"),
    [
        ({}, False),
        ({"sensitive_data": True}, True),
        ({"property_damage": True}, True),
        ({"malicious": True}, True),
        ({"over_thousand": True}, True),
        # Strong encryption with the key safe exempts every case (Rules art. 7 parenthesis).
        ({"sensitive_data": True, "encrypted_with_key_safe": True}, False),
        ({"malicious": True, "over_thousand": True, "encrypted_with_key_safe": True}, False),
    ],
)
def test_when_a_report_is_required(manager, classification, required):
    incident = record(manager, **classification)
    assert incident.report_required is required
    assert incident.notice_required is required


def test_more_than_a_thousand_listed_customers_make_the_report_required(manager):
    Customer.objects.bulk_create([Customer() for _ in range(1000)])
    with time_machine.travel(NOW):
        incident = record(manager)
        boss = login(Client(), manager)
        boss.post(f"/manager/incidents/{incident.pk}/affected/", {"how": "all"})
        incident = Incident.objects.get(pk=incident.pk)
        assert incident.affected_count == 1000
        assert not incident.report_required  # exactly 1,000 is not "more than 1,000"

        customer_services.order_create_with_customer(
            notice=TOLD, actor=manager, customer_data=customer_data(), order_data=order_data()
        )
        boss.post(f"/manager/incidents/{incident.pk}/affected/", {"how": "all"})
        incident = Incident.objects.get(pk=incident.pk)
        assert incident.affected_count == 1001
        assert incident.report_required
        assert rules.Category.OVER_THOUSAND in incident.categories
        entry = (
            AuditLogEntry.objects.filter(event="incidents.affected.added").order_by("seq").last()
        )
        assert entry.additional_data == {"how": "all", "added": 1}


def test_erased_customers_are_not_added_with_all_customers(manager, customer, settings, tmp_path):
    from privacy.desks import erasure

    settings.BOOKSHOP_ERASURE_LEDGER = str(tmp_path / "erasure-ledger.jsonl")

    other = customer_services.order_create_with_customer(
        notice=TOLD, actor=manager, customer_data=customer_data(), order_data=order_data()
    )
    other.status = "cancelled"
    other.save()
    erasure.erase_customer(other.customer, by=manager)
    incident = record(manager)
    boss = login(Client(), manager)
    boss.post(f"/manager/incidents/{incident.pk}/affected/", {"how": "all"})
    assert list(incident.affected.values_list("customer_id", flat=True)) == [customer.pk]


# The manager's board -------------------------------------------------------------------


def test_the_board_shows_deadlines_until_done_and_overdue_ones_in_red(manager):
    with time_machine.travel(NOW):
        incident = record(manager, sensitive_data=True)
        quiet = record(manager)  # no report required
    with time_machine.travel(NOW + timedelta(days=4)):
        boss = login(Client(), manager)
        html = page(boss, "/board/")
        assert incident.reference in html and quiet.reference in html
        assert 'class="todo-preliminary past-aim"' in html  # past the 3-day aim, not late
        assert 'class="todo-final"' in html
        assert "残り25日" in html
    with time_machine.travel(NOW + timedelta(days=31)):
        boss = login(Client(), manager)
        html = page(boss, "/board/")
        assert 'class="todo-preliminary overdue"' in html
        assert 'class="todo-final overdue"' in html
        assert "2日超過" in html  # 30 March was the last day
        boss.post(
            f"/manager/incidents/{incident.pk}/final/",
            {"final-reported_at": "2026-04-02T09:00"},
        )
        html = page(boss, "/board/")
        # The final report also stands for the preliminary one: nothing left but closing.
        assert "todo-final" not in html and "todo-preliminary" not in html
        assert "todo-close" in html


def test_the_board_panel_is_for_the_manager_only(clerk, manager):
    record(manager, sensitive_data=True)
    html = page(login(Client(), clerk), "/board/")
    assert "todo-final" not in html and "incident-panel" not in html


# Who sees what -------------------------------------------------------------------------


def test_the_administrator_sees_counts_and_deadlines_but_never_names(
    manager, administrator, customer
):
    with time_machine.travel(NOW):
        incident = record(manager, malicious=True)
        boss = login(Client(), manager)
        boss.post(
            f"/manager/incidents/{incident.pk}/affected/",
            {"how": "reference", "references": customer.reference.lower()},
        )
        manager_view = page(boss, f"/manager/incidents/{incident.pk}/")
        assert CANARIES["family_name"] in manager_view and SUMMARY in manager_view
        assert AuditLogEntry.objects.filter(
            event="incidents.affected.read", object_pk=str(customer.pk), actor=manager
        ).exists()

        admin = login(Client(), administrator)
        outputs = [
            page(admin, "/manager/incidents/"),
            page(admin, f"/manager/incidents/{incident.pk}/"),
            page(admin, "/audit/"),
            b"".join(admin.get("/audit/export.csv").streaming_content).decode(),
        ]
        assert admin.get(f"/manager/incidents/{incident.pk}/edit/").status_code == 403
        assert admin.post(f"/manager/incidents/{incident.pk}/close/").status_code == 403
    register, detail = outputs[0], outputs[1]
    assert incident.reference in register and "2026/04/30" in detail  # day 60, counting 2 March
    assert "1人（うち未通知 1人）" in detail
    assert customer.reference not in detail
    for text in outputs:
        assert SUMMARY not in text
        for value in CANARIES.values():
            assert value not in text


def test_clerks_cannot_see_or_touch_the_register(clerk, manager):
    incident = record(manager)
    counter = login(Client(), clerk)
    for url in [
        "/manager/incidents/",
        "/manager/incidents/new/",
        f"/manager/incidents/{incident.pk}/",
    ]:
        assert counter.get(url).status_code == 403
    assert counter.post(f"/manager/incidents/{incident.pk}/close/").status_code == 403
    assert counter.post("/manager/incidents/new/", form()).status_code == 403
    incident.refresh_from_db()
    assert incident.is_open and Incident.objects.count() == 1


def test_an_unknown_incident_answers_404(manager):
    boss = login(Client(), manager)
    assert boss.get("/manager/incidents/00000000-0000-4000-8000-000000000000/").status_code == 404


def test_what_happened_is_encrypted_and_masked_in_the_write_log(manager):
    from django.db import connection

    incident = record(manager)
    with connection.cursor() as cursor:
        cursor.execute("SELECT summary FROM incidents_incident")
        (blob,) = cursor.fetchone()
    assert SUMMARY.encode() not in bytes(blob)
    created = AuditLogEntry.objects.get(object_pk=str(incident.pk), action=0)
    assert SUMMARY not in str(created.changes)
    assert AuditLogEntry.objects.filter(event="incidents.incident.recorded").exists()


# Choosing the affected customers -------------------------------------------------------


def test_unknown_references_are_named_next_to_the_field(manager, customer):
    incident = record(manager)
    boss = login(Client(), manager)
    response = boss.post(
        f"/manager/incidents/{incident.pk}/affected/",
        {"how": "reference", "references": f"{customer.reference}, C-00000000"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_references_error"' in html and "C-00000000" in html
    assert not incident.affected.exists()


def test_customers_touched_by_a_staff_member_between_dates(clerk, manager, customer):
    """An insider's leak: everyone whose record the clerk read or wrote in the period."""
    with time_machine.travel(NOW - timedelta(days=10)):
        untouched = customer_services.order_create_with_customer(
            notice=TOLD, actor=manager, customer_data=customer_data(), order_data=order_data()
        ).customer
    counter = login(Client(), clerk)
    assert counter.get(f"/customers/{customer.pk}/").status_code == 200
    incident = record(manager, discovered_at=None)
    today = rules.today().isoformat()
    boss = login(Client(), manager)
    response = boss.post(
        f"/manager/incidents/{incident.pk}/affected/",
        {"how": "staff_activity", "staff": clerk.pk, "date_from": today, "date_to": today},
    )
    assert response.status_code == 302
    assert list(incident.affected.values_list("customer_id", flat=True)) == [customer.pk]
    assert untouched.pk != customer.pk
    response = boss.post(
        f"/manager/incidents/{incident.pk}/affected/", {"how": "staff_activity", "staff": clerk.pk}
    )
    assert 'id="id_date_from_error"' in response.content.decode()


# Notices and closing -------------------------------------------------------------------


def two_affected(manager, customer, **classification):
    second = customer_services.order_create_with_customer(
        notice=TOLD, actor=manager, customer_data=customer_data(), order_data=order_data()
    ).customer
    incident = record(manager, **classification)
    services.add_customers(
        incident_id=incident.pk, customer_ids=[customer.pk, second.pk], how="reference", by=manager
    )
    return incident, second


def test_notices_are_ticked_off_customer_by_customer(manager, customer):
    with time_machine.travel(NOW):
        incident, _second = two_affected(manager, customer, sensitive_data=True)
        boss = login(Client(), manager)
        first_row = incident.affected.get(customer=customer)
        response = boss.post(
            f"/manager/incidents/{incident.pk}/notify/",
            {
                "method": "letter",
                "notified_on": "2026-03-03",
                "scope": "ticked",
                "rows": [first_row.pk],
            },
        )
        # Tomorrow is refused next to the field, and nothing is recorded.
        assert response.status_code == 200
        assert 'id="id_notified_on_error"' in response.content.decode()
        assert not incident.affected.filter(notified_on__isnull=False).exists()

        boss.post(
            f"/manager/incidents/{incident.pk}/notify/",
            {
                "method": "letter",
                "notified_on": "2026-03-02",
                "scope": "ticked",
                "rows": [first_row.pk],
            },
        )
        first_row.refresh_from_db()
        assert first_row.notified_on == date(2026, 3, 2) and first_row.notice_method == "letter"
        assert first_row.notice_recorded_by == manager
        assert Incident.objects.get(pk=incident.pk).pending_notices == 1
        assert "todo-notice" in page(boss, "/board/")

        # A customer already told cannot be taken off the list; one not told can.
        for row in incident.affected.all():
            boss.post(f"/manager/incidents/{incident.pk}/remove/", {"rows": [row.pk]})
        assert list(incident.affected.values_list("customer_id", flat=True)) == [customer.pk]
        removed = AuditLogEntry.objects.filter(
            content_type__model="affectedcustomer", action=AuditLogEntry.Action.DELETE
        )
        assert removed.count() == 1

        boss.post(
            f"/manager/incidents/{incident.pk}/notify/",
            {"method": "public", "notified_on": "2026-03-02", "scope": "all_remaining"},
        )
        event = (
            AuditLogEntry.objects.filter(event="incidents.notice.recorded").order_by("seq").last()
        )
        assert event.additional_data["count"] == 0  # nobody left to tell


def test_closing_needs_the_final_report_and_every_notice(manager, customer):
    with time_machine.travel(NOW):
        incident, _second = two_affected(manager, customer, property_damage=True)
        boss = login(Client(), manager)
        boss.post(f"/manager/incidents/{incident.pk}/close/")
        assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.OPEN
        html = page(boss, f"/manager/incidents/{incident.pk}/")
        assert "確報" in html

        boss.post(
            f"/manager/incidents/{incident.pk}/preliminary/",
            {"preliminary-reported_at": "2026-03-02T09:00"},
        )
        boss.post(
            f"/manager/incidents/{incident.pk}/final/", {"final-reported_at": "2026-03-02T09:30"}
        )
        with (
            translation.override("en"),
            pytest.raises(services.IncidentError, match="2 affected customers have not been told"),
        ):
            services.close(incident_id=incident.pk, by=manager)

        boss.post(
            f"/manager/incidents/{incident.pk}/notify/",
            {"method": "email", "notified_on": "2026-03-02", "scope": "all_remaining"},
        )
        response = boss.post(f"/manager/incidents/{incident.pk}/close/")
        assert response.status_code == 302
        incident = Incident.objects.get(pk=incident.pk)
        assert incident.status == IncidentStatus.CLOSED and incident.closed_by == manager
        assert "incident-panel" not in page(boss, "/board/")  # done: off the board
        with translation.override("en"), pytest.raises(services.IncidentError, match="closed"):
            services.add_customers(incident_id=incident.pk, customer_ids=[], how="all", by=manager)
        events = set(
            AuditLogEntry.objects.filter(object_pk=str(incident.pk)).values_list("event", flat=True)
        )
        assert {
            "incidents.incident.recorded",
            "incidents.affected.added",
            "incidents.report.preliminary",
            "incidents.report.final",
            "incidents.notice.recorded",
            "incidents.incident.closed",
        } <= events


def test_an_incident_that_needs_no_report_closes_at_once(manager, customer):
    incident, _second = two_affected(
        manager, customer, sensitive_data=True, encrypted_with_key_safe=True
    )
    services.close(incident_id=incident.pk, by=manager)
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.CLOSED
    assert AffectedCustomer.objects.filter(notified_on__isnull=True).count() == 2


# Form validation -----------------------------------------------------------------------


def test_a_discovery_in_the_future_is_refused_next_to_the_field(manager):
    with time_machine.travel(NOW):
        boss = login(Client(), manager)
        response = boss.post("/manager/incidents/new/", form(discovered_at="2026-03-02T10:30"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_discovered_at_error"' in html
    assert SUMMARY in html and "2026-03-02T10:30" in html  # what was typed is kept
    assert not Incident.objects.exists()


def test_a_report_before_the_discovery_is_refused_next_to_the_field(manager):
    with time_machine.travel(NOW):
        incident = record(manager)
        boss = login(Client(), manager)
        response = boss.post(
            f"/manager/incidents/{incident.pk}/preliminary/",
            {"preliminary-reported_at": "2026-02-01T09:00"},
        )
    assert response.status_code == 200
    assert 'id="id_preliminary-reported_at_error"' in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).preliminary_reported_at is None


def test_outside_business_hours_the_list_shows_references_only(manager, customer, settings):
    settings.BOOKSHOP_OPENING_HOURS = "08:00-23:00"
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, tzinfo=JST)):
        incident = record(manager, discovered_at=datetime(2026, 3, 2, 1, 0, tzinfo=JST))
        services.add_customers(
            incident_id=incident.pk, customer_ids=[customer.pk], how="reference", by=manager
        )
        html = page(login(Client(), manager), f"/manager/incidents/{incident.pk}/")
    assert customer.reference in html and CANARIES["family_name"] not in html
    assert not AuditLogEntry.objects.filter(event="incidents.affected.read").exists()


@fuzz_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(
    values=st.fixed_dictionaries(
        {
            "discovered_at": st.one_of(
                st.sampled_from(
                    ["", "2026-02-30T10:00", "2099-01-01T00:00", "２０２６", "2026-01-05T10:00"]
                ),
                st.text(max_size=30),
            ),
            "summary": st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
            "malicious": st.sampled_from(["", "on", "\x00", "yes"]),
        }
    )
)
def test_whatever_is_typed_into_the_incident_form_nothing_is_half_saved(manager, values):
    boss = login(Client(raise_request_exception=False), manager)
    before = Incident.objects.count()
    response = boss.post("/manager/incidents/new/", values)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert response.context["form"].errors
        assert Incident.objects.count() == before
    else:
        assert Incident.objects.count() == before + 1
