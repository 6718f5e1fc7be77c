"""Every URL, GET and POST, for every persona, over canary data: wherever a canary value
reaches a response (a page, a download, a mail), a read entry for that actor and that
subject was written by the same request. And no management command prints or writes a
canary at all. Together with tests/privacy/test_gate.py this is what makes the gate the only
way to plaintext: a page that decrypts without a decision fails here or raises there."""

import io
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from customers import printing
from privacy.access import requests as access_requests
from privacy.audit.models import AuditLogEntry
from privacy.core import context
from privacy.desks import requests
from privacy.incidents import services as incident_services
from privacy.staff.records import services as records
from tests.conftest import (
    CANARIES,
    ORDER_CANARIES,
    PROVISION_CANARIES,
    login,
    provision_for,
    readable,
)
from tests.test_access_matrix import ANON, MATRIX

PERSONAS = ["anonymous", "outsider_clerk", "clerk", "manager", "administrator"]
REQUEST_CANARIES = {"name": "依頼者カナリアRq55", "contact": "連絡先カナリアCt66"}
INCIDENT_CANARY = "事故の概要カナリアIc88"


@pytest.fixture
def world(order, clerk, outsider_clerk, manager):
    """One of everything that holds personal data, each full of canaries."""
    customer = order.customer
    provision = provision_for(customer, clerk)
    item = requests.intake(
        kind="disclosure",
        channel="web",
        name=REQUEST_CANARIES["name"],
        contact=REQUEST_CANARIES["contact"],
        details="",
    )
    with context.scope(actor=manager):
        requests.verify_identity(
            request_id=item.pk, method="passport", customer=customer, by=manager
        )
        requests.start_work(request_id=item.pk, by=manager)
        requests.propose(request_id=item.pk, outcome="complete", reply="回答", by=manager)
        incident = incident_services.record(
            by=manager, discovered_at=timezone.now() - timedelta(hours=1), summary=INCIDENT_CANARY
        )
        incident_services.add_customers(
            incident_id=incident.pk, customer_ids=[customer.pk], how="reference", by=manager
        )
    job = printing.print_order_slip(actor=clerk, order=order)
    grant = customer.access_grants.first()
    contractor = records.save_contractor(  # records: a contractor in the register
        by=manager,
        name="委託先",
        data_handled="氏名",
        purpose="配送",
        contract_starts_on=timezone.localdate(),
        contract_ends_on=None,
        confidentiality_agreed_on=None,
    )
    # A clerk who may not see the customer asks the manager to (privacy.access.requests).
    access_request, _filed = access_requests.file_request(customer, by=outsider_clerk)
    return {
        "subjects": {
            str(customer.pk): [*CANARIES.values(), *ORDER_CANARIES.values()],
            # The record keeps its own copy of the customer's name, under its own key.
            str(provision.pk): [
                *PROVISION_CANARIES.values(),
                CANARIES["family_name"],
                CANARIES["given_name"],
            ],
            str(item.pk): list(REQUEST_CANARIES.values()),
            str(incident.pk): [INCIDENT_CANARY],
        },
        "ids": {
            "customer": customer.pk,
            "order": order.pk,
            "grant": grant.pk,
            "staff": clerk.pk,
            "request": item.pk,
            "print_job": job.pk,
            "provision": provision.pk,
            "incident": incident.pk,
            "contractor": contractor.pk,
            "access_request": access_request.pk,
        },
    }


def _texts(response) -> str:
    """Everything a response hands over, as text: a page, a streamed file, a zip's files."""
    body = (
        b"".join(response.streaming_content)
        if getattr(response, "streaming", False)
        else response.content
    )
    parts = [body.decode("utf-8", "replace")]
    if body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            parts += [archive.read(n).decode("utf-8", "replace") for n in archive.namelist()]
    return "\n".join(parts)


def _check(out: str, *, user, since: int, world, where: str) -> None:
    reads = AuditLogEntry.objects.filter(seq__gt=since, event__endswith=".read")
    reads = reads.filter(actor=user) if user is not None else reads.filter(actor__isnull=True)
    logged = set(reads.values_list("object_pk", flat=True))
    holders = {}  # canary value -> the subjects that hold it
    for subject, canaries in world["subjects"].items():
        for value in canaries:
            holders.setdefault(value, set()).add(subject)
    for value, subjects in holders.items():
        if value in out:
            assert subjects & logged, f"{where}: {value!r} shown without a read entry"


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_no_canary_leaves_without_a_read_entry_for_that_actor(request, world, persona, name):
    _method, template, _expected = MATRIX[name]
    url = template.format(prefix="", **world["ids"]) if "{" in template else template
    user = None if persona == ANON else request.getfixturevalue(persona)
    for method in ("get", "post"):
        client = Client(raise_request_exception=False)
        if user is not None:
            login(client, user)
        since = AuditLogEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
        mail.outbox = []
        response = getattr(client, method)(url)
        out = _texts(response) + "".join(m.body + m.subject for m in mail.outbox)
        _check(out, user=user, since=since, world=world, where=f"{method.upper()} {url}")


def test_no_command_prints_or_writes_a_canary(world, manager, tmp_path, settings):
    settings.BOOKSHOP_AUDIT_CHECKPOINTS = str(tmp_path / "checkpoints.jsonl")
    # backup and restore run as a user runs them, in their own processes, with their own
    # canary checks: tests/privacy/test_backups.py and test_restore_commands.py.
    runs = [
        ["verify_audit_log"],
        ["expire_access"],
        ["audit_checkpoint"],
        ["keys", "status"],
        ["retention", "--dry-run"],
    ]
    csv = tmp_path / "import.csv"
    csv.write_text(
        "姓,名,セイ,メイ,電話番号\n"
        f"{CANARIES['family_name']},{CANARIES['given_name']},{CANARIES['family_name_kana']},"
        f"{CANARIES['given_name_kana']},{CANARIES['phone']}\n",
        encoding="utf-8",
    )
    runs.append(["import_customers", str(csv), "--as", manager.username, "--dry-run"])
    everything = [v for canaries in world["subjects"].values() for v in canaries]
    for args in runs:
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command(*args, stdout=out, stderr=err)
        except SystemExit:
            pass
        except Exception as error:  # a refusal is fine; what it says must hold no data
            err.write(str(error))
        text = out.getvalue() + err.getvalue()
        for value in everything:
            assert value not in text, f"{args[0]} printed {value!r}"
    readable(world_customer := _customer(world))
    assert world_customer.family_name == CANARIES["family_name"]  # the data is really there


def _customer(world):
    from customers.models import Customer

    return Customer.objects.get(pk=world["ids"]["customer"])
