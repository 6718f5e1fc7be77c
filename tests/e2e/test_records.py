"""The manager records a staff training session from the menu, in Japanese, in a real
browser, and the public privacy notice then says when staff were last trained."""

import re
from datetime import datetime, time

import pytest
import time_machine
from django.utils import timezone

from privacy.audit.models import AuditLogEntry
from privacy.staff.records.models import TrainingSession
from tests.conftest import PASSWORD
from tests.e2e.test_journeys import authenticator_for, ja

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("production_password_hasher"),
]


def test_the_manager_records_training_and_the_notice_reports_it(journey, manager, clerk):
    page = journey.page
    # Inside business hours, whenever the suite runs (the board the login lands on needs them).
    noon = timezone.make_aware(datetime.combine(timezone.localdate(), time(12, 0)))
    with time_machine.travel(noon, tick=True):
        journey.go("/privacy/")
        assert "研修" not in page.locator("main").inner_text()  # nothing recorded, nothing said
        journey.shot("notice-before")

        journey.login("manager", PASSWORD, authenticator=authenticator_for(manager))
        page.wait_for_url(re.compile(r"/board/$"))
        page.locator("nav.subnav").get_by_role("link", name=ja("Staff training")).click()
        page.wait_for_url(re.compile(r"/manager/training/$"))
        assert page.locator("h1").inner_text() == "従業者の教育"
        journey.shot("training-form")

        page.get_by_label(ja("Topic")).fill("個人情報の取扱いと漏えい時の報告")
        page.get_by_label(re.compile("Clerk")).check()  # the clerk's name on the staff list
        page.get_by_role("button", name=ja("Record the session")).click()
        page.wait_for_url(re.compile(r"/manager/training/$"))
        assert ja("Training session recorded.") in page.locator(".messages").inner_text()
        row = page.locator("table tbody tr").first.inner_text()
        assert "個人情報の取扱いと漏えい時の報告" in row
        assert "Clerk" in row
        journey.shot("training-recorded")

        session = TrainingSession.objects.get()
        assert list(session.attendees.all()) == [clerk]
        assert AuditLogEntry.objects.filter(event="records.training.recorded", actor=manager)

        journey.go("/privacy/")
        today = timezone.localdate()
        statement = (
            "従業者に対し、個人情報の取扱いに関する研修を定期的に実施しています"
            f"（直近: {today.year}年{today.month}月）"
        )
        assert statement in page.locator("main").inner_text()
        journey.shot("notice-after")
