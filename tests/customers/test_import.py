"""The spreadsheet import: `python manage.py import_customers FILE --as MANAGER`."""

import csv
import io
import json
import os
import stat

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from customers import importing
from customers.models import Customer
from privacy.access.models import AccessGrant
from privacy.audit import chain as audit_chain
from privacy.audit.models import AuditLogEntry
from privacy.consent import purposes
from privacy.consent.models import NoticeRecord
from privacy.vault import blind_index
from privacy.vault.models import DataKey
from tests.conftest import CANARIES, TOLD, all_readable, login, order_data, readable

HEADER = ["姓", "名", "セイ", "メイ", "電話番号", "メール", "郵便番号", "住所", "備考"]
FAMILIES = [("山田", "ヤマダ"), ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("髙橋", "タカハシ")]
GIVEN = [("太郎", "タロウ"), ("花子", "ハナコ"), ("一郎", "イチロウ"), ("恵美", "エミ")]


def phone_for(i: int) -> str:
    return f"090-{2000 + i // 10000:04d}-{i % 10000:04d}"


def good_row(i: int) -> list[str]:
    family, family_kana = FAMILIES[i % len(FAMILIES)]
    given, given_kana = GIVEN[(i // 4) % len(GIVEN)]
    return [
        family,
        given,
        family_kana,
        given_kana,
        phone_for(i),
        f"reader{i}@example.jp",
        f"{100 + i % 800:03d}-{i % 10000:04d}",
        f"東京都千代田区神田{i}-1",
        "",
    ]


def full_width(row: list[str]) -> list[str]:
    """The same person typed in full-width digits, hiragana and half-width katakana."""
    wide = str.maketrans("0123456789-", "０１２３４５６７８９－")
    row = list(row)
    row[2] = {"ヤマダ": "ﾔﾏﾀﾞ", "スズキ": "すずき"}[row[2]]
    row[4] = row[4].translate(wide)
    row[6] = row[6].translate(wide)
    return row


# line (header = line 1, row i = line i + 2) -> how the row is broken
def _bad(row: list[str], kind: str) -> list[str]:
    row = list(row)
    if kind == "no family name":
        row[0] = ""
    elif kind == "bad phone":
        row[4] = "12345"
    elif kind == "letters in phone":
        row[4] = "090-CALL-ME"
    elif kind == "bad email":
        row[5] = CANARIES["email"].replace("@", " at ")
    elif kind == "bad postal code":
        row[6] = "12-345"
    elif kind == "too long address":
        row[7] = "東" * 201
    elif kind == "too long notes":
        row[8] = "メモ" * 501
    elif kind == "reading not kana":
        row[2] = "Yamada"
    elif kind == "emoji in name":
        row[0] = "山田★"
    return row


BAD_KINDS = [
    "no family name",
    "no family name",
    "no family name",
    "bad phone",
    "bad phone",
    "bad phone",
    "letters in phone",
    "bad email",
    "bad email",
    "bad email",
    "bad postal code",
    "bad postal code",
    "bad postal code",
    "too long address",
    "too long address",
    "too long notes",
    "reading not kana",
    "emoji in name",
    "duplicate",
    "duplicate",
]


def big_file(tmp_path, rows=7000, *, encoding="cp932"):
    """7,000 rows, 20 of them bad (varied), every 50th typed in full-width (must pass).
    The bad rows carry the canary values, so a report that repeats a value shows."""
    bad_at = {137 + i * 331: kind for i, kind in enumerate(BAD_KINDS)}
    lines = [HEADER]
    for i in range(rows):
        row = good_row(i)
        if i % 50 == 0:
            row = full_width(row)
        if i in bad_at:
            kind = bad_at[i]
            row = good_row(i - 1) if kind == "duplicate" else _bad(row, kind)
            if kind != "duplicate":
                row[1], row[3], row[7] = (
                    CANARIES["given_name"],
                    CANARIES["given_name_kana"],
                    row[7] if kind == "too long address" else CANARIES["address"],
                )
        lines.append(row)
    path = tmp_path / "customers.csv"
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(lines)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path, sorted(i + 2 for i in bad_at)


def write_csv(path, rows, *, encoding="utf-8", header=HEADER):
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([header, *rows])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def run(path, *args, user="manager"):
    out = io.StringIO()
    call_command("import_customers", str(path), "--as", user, *args, stdout=out)
    return out.getvalue()


def run_refused(path, *args, user="manager"):
    out = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import_customers", str(path), "--as", user, *args, stdout=out)
    return out.getvalue(), str(refused.value)


def no_personal_values(text: str, *more: str) -> None:
    for value in [*CANARIES.values(), *more]:
        assert value not in text


def by_phone(phone: str) -> Customer:
    candidates = all_readable(
        Customer.objects.filter(**blind_index.lookup(Customer, "phone_bidx", phone))
    )
    (found,) = [c for c in candidates if c.phone == phone]
    return found


def rejected_lines(report_text: str) -> list[int]:
    found = set()
    for line in report_text.splitlines():
        if line.strip().startswith("line "):
            found.add(int(line.split()[1].rstrip(",")))
    return sorted(found)


def test_7000_cp932_rows_with_20_bad_import_only_with_skip_invalid(tmp_path, manager):
    path, bad_lines = big_file(tmp_path)
    assert len(bad_lines) == 20

    report, error = run_refused(path)
    assert "Nothing was imported" in error
    assert Customer.objects.count() == 0
    assert DataKey.objects.count() == 0
    assert AccessGrant.objects.count() == 0
    assert rejected_lines(report) == bad_lines
    assert "Rejected: 20 rows." in report
    no_personal_values(report + error, "12345", "090-CALL-ME", "東" * 20)

    rejects = tmp_path / "rejects.csv"
    report = run(path, "--skip-invalid", "--rejects", str(rejects))
    assert Customer.objects.count() == 6980
    assert rejected_lines(report) == bad_lines
    assert "Imported 6980 customers" in report
    assert "Shift_JIS (CP932)" in report
    assert "rows/s" in report
    no_personal_values(report, "12345", "090-CALL-ME", "東" * 20)

    # The reasons, by kind (English: services and commands speak English in tests).
    by_line = {}
    for line in report.splitlines():
        if line.strip().startswith("line "):
            by_line.setdefault(int(line.split()[1].rstrip(",")), []).append(line)
    reasons = " ".join(" ".join(v) for v in by_line.values())
    assert "姓: This field is required." in reasons
    assert "電話番号: Enter a Japanese phone number" in reasons
    assert "電話番号: A phone number holds digits only." in reasons
    assert "メール: Enter a valid email address." in reasons
    assert "郵便番号: A postal code has seven digits" in reasons
    assert "住所: Ensure this value has at most 200 characters" in reasons
    assert "備考: Ensure this value has at most 1000 characters" in reasons
    assert "セイ: Enter the reading in kana" in reasons
    assert "姓: Use letters only" in reasons
    assert "Same phone number and reading as line" in reasons

    # Full-width digits, hiragana and half-width kana were normalized and accepted.
    assert by_phone("09020000000").family_name_kana == "ヤマダ"  # from ﾔﾏﾀﾞ
    assert by_phone("09020000050").family_name_kana == "スズキ"  # from すずき
    assert by_phone("09020000050").postal_code == "150-0050"  # from full-width digits

    # The rejects file: mode 0600, the 20 rows as they were, after their line and reasons.
    assert stat.S_IMODE(os.stat(rejects).st_mode) == 0o600
    assert f"{rejects} (mode 0600" in report
    with rejects.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["line", "reasons", *HEADER]
    assert [int(r[0]) for r in rows[1:]] == bad_lines
    assert CANARIES["given_name"] in rows[1]


def test_a_dry_run_reports_and_writes_nothing(tmp_path, manager):
    path = write_csv(
        tmp_path / "few.csv",
        [good_row(1), _bad(good_row(2), "bad phone"), good_row(3)],
        encoding="cp932",
    )
    before = AuditLogEntry.objects.count()
    rejects = tmp_path / "rejects.csv"
    report = run(path, "--dry-run", "--skip-invalid", "--rejects", str(rejects))
    assert "Accepted: 2 rows (lines 2, 4)." in report
    assert "line 3, 電話番号: Enter a Japanese phone number" in report
    assert "Dry run: nothing was written." in report
    assert Customer.objects.count() == 0
    assert DataKey.objects.count() == 0
    assert AccessGrant.objects.count() == 0
    assert AuditLogEntry.objects.count() == before
    assert not rejects.exists()


def test_utf8_with_bom_and_without(tmp_path, manager):
    with_bom = write_csv(tmp_path / "bom.csv", [good_row(1)], encoding="utf-8-sig")
    without = write_csv(tmp_path / "plain.csv", [good_row(2)], encoding="utf-8")
    assert "(UTF-8)" in run(with_bom)
    assert "(UTF-8)" in run(without)
    names = sorted(c.family_name for c in all_readable(Customer.objects.all()))
    assert names == sorted([good_row(1)[0], good_row(2)[0]])


def test_the_encoding_can_be_named(tmp_path, manager):
    path = write_csv(tmp_path / "sjis.csv", [good_row(1)], encoding="cp932")
    assert "Imported 1 customers" in run(path, "--encoding", "Shift_JIS")
    _out, error = run_refused(path, "--encoding", "utf-8")
    assert "not valid utf-8" in error


def test_a_file_in_neither_encoding_is_refused(tmp_path, manager):
    path = tmp_path / "latin.csv"
    path.write_bytes(",".join(HEADER).encode() + b"\n\xff\xfe\xfa,\x80\x81\n")
    _out, error = run_refused(path)
    assert "neither UTF-8 nor Shift_JIS" in error


def test_an_xlsx_sheet_with_numbers_that_lost_their_leading_zero(tmp_path, manager):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["姓", "名", "セイ", "メイ", "TEL", "郵便番号", "住所"])
    sheet.append(["山田", "太郎", "ヤマダ", "タロウ", 9021112222, 600001, "札幌市中央区"])
    sheet.append(["佐藤", "花子", "さとう", "はなこ", "03-1234-5678", "100-0001", None])
    sheet.append([None, None, None, None, None, None, None])
    sheet.append(["", "次郎", "スズキ", "ジロウ", "090-3333-4444", "100-0001", ""])
    path = tmp_path / "customers.xlsx"
    book.save(path)

    report, _error = run_refused(path)
    assert "line 5, 姓: This field is required." in report  # spreadsheet row numbers
    run(path, "--skip-invalid")
    imported = {c.family_name: c for c in all_readable(Customer.objects.all())}
    assert imported["山田"].phone == "09021112222"
    assert imported["山田"].postal_code == "060-0001"
    assert imported["佐藤"].family_name_kana == "サトウ"
    assert imported["佐藤"].phone == "0312345678"


def test_columns_mapped_by_flags_and_by_a_file(tmp_path, manager):
    header = ["会員番号", "お客様名", "ヨミ", "連絡先", "連絡方法"]
    rows = [["A-1", "山田 太郎", "やまだ　たろう", "090-4444-5555", "メール"]]
    path = write_csv(tmp_path / "members.csv", rows, header=header)

    _out, error = run_refused(path)
    assert "No column for: family name (kana), phone" in error

    _out, error = run_refused(path, "--map", "連絡先=telephone")
    assert "Unknown field “telephone”" in error

    rows[0][4] = "電話"
    path = write_csv(tmp_path / "members.csv", rows, header=header)
    report = run(
        path, "--map", "ヨミ=full_name_kana", "--map", "連絡先=phone", "--map", "会員番号="
    )
    assert "Columns not imported: 会員番号" in report
    customer = readable(Customer.objects.get())
    assert (customer.family_name, customer.given_name) == ("山田", "太郎")
    assert (customer.family_name_kana, customer.given_name_kana) == ("ヤマダ", "タロウ")
    assert customer.preferred_contact == "phone"

    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"ヨミ": "full_name_kana", "連絡先": "phone"}), "utf-8")
    rows = [["A-2", "佐藤 花子", "サトウ ハナコ", "090-4444-6666", "メール"]]
    path = write_csv(tmp_path / "more.csv", rows, header=header)
    report, _error = run_refused(path, "--mapping", str(mapping))
    assert "line 2, email: Enter an email address to be contacted by email." in report
    mapping_csv = tmp_path / "mapping.csv"
    mapping_csv.write_text("column,field\nヨミ,full_name_kana\n連絡先,phone\n連絡方法,\n", "utf-8")
    run(path, "--mapping", str(mapping_csv))
    assert Customer.objects.count() == 2


def test_a_name_column_without_a_space_is_rejected_by_line(tmp_path, manager):
    path = write_csv(
        tmp_path / "names.csv",
        [["山田太郎", "ヤマダ タロウ", "090-4444-7777"]],
        header=["氏名", "フリガナ", "電話"],
    )
    report, _error = run_refused(path)
    assert "line 2, 氏名: Separate the family and given names with a space." in report


def test_the_report_holds_no_personal_value(tmp_path, manager):
    bad = [CANARIES[k] for k in ("family_name", "given_name", "family_name_kana")]
    bad += ["カナリアメイ", "090-7123-49", CANARIES["email"] + "@@", "12-3456"]
    bad += [CANARIES["address"] * 15, CANARIES["notes"]]
    good = [CANARIES[k] for k in HEADER_FIELDS]
    path = write_csv(tmp_path / "canary.csv", [bad, good])
    out, error = run_refused(path)
    assert rejected_lines(out) == [2]
    no_personal_values(out + error, "090-7123-49")
    rejects = tmp_path / "r.csv"
    out = run(path, "--skip-invalid", "--rejects", str(rejects))
    no_personal_values(out, "090-7123-49")
    assert CANARIES["notes"] in rejects.read_text("utf-8-sig")  # the file, not the report


def test_a_file_without_a_heading_line_is_refused_without_showing_its_first_row(tmp_path, manager):
    first = [CANARIES[k] for k in HEADER_FIELDS]
    path = write_csv(tmp_path / "no-heading.csv", [good_row(1)], header=first)
    out, error = run_refused(path)
    no_personal_values(out + error)
    assert "column 1" in error and "column 5" in error
    # Mapped by the shop's own flags, the columns are named as the flags name them.
    out, error = run_refused(path, "--map", f"{CANARIES['phone']}=phone")
    assert "column 1" in error


HEADER_FIELDS = [
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "phone",
    "email",
    "postal_code",
    "address",
    "notes",
]


def test_repeated_people_are_rejected_a_shared_household_phone_is_not(tmp_path, manager, customer):
    same_person = [CANARIES[k] for k in HEADER_FIELDS]
    same_person[4] = "０９０－７１２３－４９８７"  # the existing customer's phone, full-width
    household = list(same_person)
    household[1], household[3] = "花子", "はなこ"
    again = list(household)
    path = write_csv(tmp_path / "dups.csv", [same_person, household, again])
    report = run(path, "--skip-invalid")
    assert "line 2, 電話番号: Already a customer (same phone number and reading)." in report
    assert "line 4, 電話番号: Same phone number and reading as line 3." in report
    assert Customer.objects.count() == 2
    # The existing customer was compared, so that read is in the log.
    read = AuditLogEntry.objects.filter(
        event="customers.customer.read", object_pk=str(customer.pk)
    ).latest("seq")
    assert read.additional_data["purpose"] == "customer_import"
    assert read.actor == manager


def test_only_an_active_manager_may_import(tmp_path, manager, clerk):
    path = write_csv(tmp_path / "one.csv", [good_row(1)])
    _out, error = run_refused(path, user="clerk")
    assert "Only an active manager may import customers." in error
    _out, error = run_refused(path, user="nobody")
    assert "No staff account named" in error
    manager.is_active = False
    manager.save()
    _out, error = run_refused(path)
    assert "Only an active manager" in error
    assert Customer.objects.count() == 0


def test_rejects_file_needs_skip_invalid_and_is_never_overwritten(tmp_path, manager):
    path = write_csv(tmp_path / "one.csv", [_bad(good_row(1), "bad phone")])
    existing = tmp_path / "exists.csv"
    existing.write_text("keep me")
    _out, error = run_refused(path, "--rejects", str(tmp_path / "new.csv"))
    assert "--rejects goes with --skip-invalid" in error
    _out, error = run_refused(path, "--skip-invalid", "--rejects", str(existing))
    assert "already exists" in error
    assert existing.read_text() == "keep me"


def test_imported_customers_are_written_like_counter_customers(tmp_path, manager, customer):
    path = write_csv(tmp_path / "two.csv", [good_row(1), good_row(2)])
    run(path)
    imported = list(Customer.objects.exclude(pk=customer.pk))
    assert len(imported) == 2
    counter_entry = AuditLogEntry.objects.get(
        action=AuditLogEntry.Action.CREATE, object_pk=str(customer.pk)
    )
    for person in imported:
        entry = AuditLogEntry.objects.get(
            action=AuditLogEntry.Action.CREATE, object_pk=str(person.pk)
        )
        assert set(entry.changes) == set(counter_entry.changes)  # as at the counter
        assert all(entry.changes[name] == ["[redacted]", "[redacted]"] for name in CANARIES)
        assert entry.actor == manager
        assert entry.additional_data["import"].startswith("IMP-")
        grant = AccessGrant.objects.get(customer=person)
        assert grant.group.name == "counter" and grant.granted_by == manager
        # Not for ever: as long as retention keeps a customer who ordered today.
        assert grant.expires_at is not None
        assert 700 < (grant.expires_at - timezone.now()).days < 740
        assert AuditLogEntry.objects.filter(
            event="privacy.access.granted", object_pk=str(person.pk), actor=manager
        ).exists()
        assert purposes.needs_notice(person)
        assert person.last_confirmed_at is None
    assert AuditLogEntry.objects.filter(event="customers.import.completed").count() == 1
    assert audit_chain.verify().ok


def test_imported_customers_decrypt_and_the_counter_finds_them_by_phone(
    client, tmp_path, manager, clerk, outsider_clerk
):
    row = good_row(42)
    path = write_csv(tmp_path / "one.csv", [row], encoding="cp932")
    run(path)
    fresh = readable(Customer.objects.get())
    assert (fresh.family_name, fresh.address) == (row[0], row[7])

    login(client, clerk)
    page = client.post("/customers/search/", {"phone": row[4]})
    assert [c.pk for c in page.context["matches"]] == [fresh.pk]
    assert row[0] in page.content.decode()

    login(client, outsider_clerk)
    page = client.post("/customers/search/", {"phone": row[4]})
    assert page.context["matches"] == []


def test_the_next_order_of_an_imported_customer_asks_the_clerk_to_tell_the_purposes(
    client, tmp_path, manager, clerk
):
    path = write_csv(tmp_path / "one.csv", [good_row(7)])
    run(path)
    imported = Customer.objects.get()
    login(client, clerk)
    url = f"/customers/{imported.pk}/orders/new/"
    page = client.get(url)
    assert page.context["notice_form"] is not None
    assert "notice-heading" in page.content.decode()
    assert page.context["stale_details"]  # never confirmed with the customer either

    order = {f"order-{k}": v for k, v in order_data().items()}
    page = client.post(url, order)
    assert page.status_code == 200
    assert "method" in page.context["notice_form"].errors
    assert imported.orders.count() == 0

    client.post(url, {**order, "notice-method": TOLD["method"]})
    assert imported.orders.count() == 1
    assert NoticeRecord.objects.get(customer=imported).told_by == clerk
    assert not purposes.needs_notice(imported)
    assert client.get(url).context["notice_form"] is None


def test_the_function_runs_without_the_command(tmp_path, manager):
    """The benchmark calls it directly."""
    path = write_csv(tmp_path / "one.csv", [good_row(1), _bad(good_row(2), "bad email")])
    report = importing.import_customers(
        path, mapping={}, dry_run=False, skip_invalid=True, rejects_path=None, actor=manager
    )
    assert report.imported == 1
    assert report.rejected_lines == [3]
    assert report.rows_per_second > 0
    assert len(report.customer_ids) == 1
