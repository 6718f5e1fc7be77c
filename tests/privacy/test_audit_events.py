"""Every event the code can write is labelled, and renders on the audit page and in its CSV
whatever its data holds. The list of events is read from the source tree, not written here:
a new ``audit.record("...")`` without a label fails this test."""

import ast
import csv
import io
import re
import uuid
from pathlib import Path

import pytest
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.access.decisions import PURPOSES
from privacy.audit import log as audit
from privacy.audit import review
from privacy.audit.models import AuditLogEntry
from tests.conftest import CANARIES, login

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("customers", "privacy", "bookshop")
ACTIONS = [code for code, _label in AuditLogEntry.Action.choices]
CODE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
# The functions whose first argument is an event code.
WRITERS = {"record", "event_entry"}


def _strings(node) -> list[str]:
    """The codes an expression can evaluate to: a literal, either side of ``a if c else b``,
    the operands of ``a or b``; an f-string gives a pattern with ``*`` for each hole."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [s for value in node.values for s in _strings(value)]
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)]
    return []


def _assignments(node: ast.Assign):
    """(name, value) for ``NAME = value`` and ``A, B = "a", "b"``."""
    for target in node.targets:
        if isinstance(target, ast.Name):
            yield target.id, node.value
        elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
            for one, value in zip(target.elts, node.value.elts, strict=False):
                if isinstance(one, ast.Name):
                    yield one.id, value


def _followed(node, known: set[str]) -> bool:
    """Whether an event argument is made only of names whose codes the scan collected."""
    if isinstance(node, ast.Name):
        return node.id in known
    if isinstance(node, ast.IfExp):
        return _followed(node.body, known) and _followed(node.orelse, known)
    if isinstance(node, ast.BoolOp):
        return all(_followed(value, known) for value in node.values)
    if isinstance(node, ast.Subscript):
        return isinstance(node.value, ast.Name) and node.value.id in known
    return False


def _source_files():
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def scan() -> tuple[set[str], list[str]]:
    """(event codes and patterns the code can write, writer calls whose code this scan
    cannot follow). Event positions: the first argument of ``record``/``event_entry``, any
    ``event=`` keyword, the default of a parameter named ``event``. What stands there is a
    literal, ``a if c else b``, an f-string, or a name assigned in the same module
    (``READ_EVENT = "..."``, ``RAN, FAILED = "...", "..."``, ``_EVENTS = {...: "..."}`` read
    with ``_EVENTS[key]``) or a parameter (its values come from its callers' ``event=``).
    Names of events kept apart from their writer (``RESTORED_EVENT``) are collected too."""
    codes: set[str] = set()
    unresolved: list[str] = []
    for path in _source_files():
        if path.name == "review.py" and path.parent.name == "audit":
            continue  # the reader: names events it looks for, writes none
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assigned: dict[str, list] = {}
        parameters: set[str] = set()
        positions: list[tuple[ast.AST, int, bool]] = []  # (expression, line, a writer's)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for name, value in _assignments(node):
                    values = value.values if isinstance(value, ast.Dict) else [value]
                    assigned.setdefault(name, []).extend(values)
                    if "event" in name.lower():
                        positions.append((value, node.lineno, False))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
                parameters |= {a.arg for a in args}
                positional = [*node.args.posonlyargs, *node.args.args]
                defaults = [None] * (len(positional) - len(node.args.defaults))
                pairs = zip(
                    positional + node.args.kwonlyargs,
                    defaults + node.args.defaults + node.args.kw_defaults,
                    strict=True,
                )
                for arg, default in pairs:
                    if arg.arg == "event" and default is not None:
                        positions.append((default, node.lineno, False))
            elif isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "event":
                        positions.append((keyword.value, node.lineno, False))
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in WRITERS and node.args:
                    positions.append((node.args[0], node.lineno, True))
        for expression, line, writer in positions:
            found = _resolve(expression, assigned)
            codes.update(found)
            if writer and not found and not _followed(expression, set(assigned) | parameters):
                unresolved.append(f"{path.relative_to(ROOT)}:{line}")
    return {c for c in codes if CODE.match(c.replace("*", "x"))}, unresolved


def _resolve(node, assigned: dict, depth: int = 0) -> list[str]:
    """The codes an expression in an event position can be, through the module's names."""
    found = _strings(node)
    if depth > 3:
        return found
    inner = []
    if isinstance(node, ast.Name):
        inner = assigned.get(node.id, [])
    elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        inner = assigned.get(node.value.id, [])
    elif isinstance(node, ast.IfExp):
        inner = [node.body, node.orelse]
    elif isinstance(node, ast.BoolOp):
        inner = node.values
    for one in inner:
        for code in _resolve(one, assigned, depth + 1):
            if code not in found:
                found.append(code)
    return found


def _expand(codes: set[str]) -> set[str]:
    """Patterns (``incidents.report.*``) become the labelled codes they match."""
    out = set()
    for code in codes:
        if "*" not in code:
            out.add(code)
            continue
        pattern = re.compile("^" + re.escape(code).replace(r"\*", "[a-z0-9_]+") + "$")
        matched = {label for label in review.EVENT_LABELS if pattern.match(label)}
        assert matched, f"no label matches the event pattern {code!r}"
        out |= matched
    return out


EVENTS = sorted(_expand(scan()[0]))


def test_the_scan_finds_the_events_and_follows_every_writer():
    codes, unresolved = scan()
    assert unresolved == [], f"event codes the scan cannot follow: {unresolved}"
    # A few the page must know, written in four different ways.
    for code in (
        "privacy.request.corrected",  # record("...")
        "customers.order.arrived",  # a dict of events
        "privacy.request.received_web",  # event = "..." if ... else "..."
        "auth.lockout.sessions_ended",  # event="..." to a helper
        "customers.customer.read",  # a parameter's default
        "privacy.search.refused",
        "privacy.audit.verified",
    ):
        assert code in EVENTS
    assert "incidents.report.*" in codes
    assert len(EVENTS) > 80


def test_every_event_the_code_writes_has_a_label_in_japanese_and_english():
    missing = [code for code in EVENTS if code not in review.EVENT_LABELS]
    assert missing == []
    for code, label in review.EVENT_LABELS.items():
        with translation.override("ja"):
            japanese = str(label)
        with translation.override("en"):
            english = str(label)
        assert japanese != english, f"no Japanese for {code}: {english!r}"
        assert code not in japanese


def test_every_purpose_and_write_log_action_has_a_label():
    assert set(PURPOSES) <= set(review.PURPOSE_LABELS)
    for action in ACTIONS:
        with translation.override("ja"):
            assert str(review.ACTION_LABELS[action]) not in {"create", "update", "delete"}


def test_every_download_is_classified_and_the_audit_csv_holds_no_personal_data():
    downloads = {
        code
        for code in EVENTS
        if re.search(r"(download|export|print)", code)
        and not code.endswith(".read")
        and not re.search(r"\.(requested|approved|refused)$", code)
    }
    assert downloads <= set(review.DOWNLOADS)
    assert review.DOWNLOADS["privacy.audit.exported"] is False
    for personal in (
        "privacy.export.downloaded",
        "privacy.disclosure.downloaded",
        "customers.print.created",
    ):
        assert review.DOWNLOADS[personal] is True


# Data of every shape a JSON column can hold, and some that a careless writer might store.
ODD_DATA = [
    None,
    {},
    [],
    "",
    "text",
    0,
    7,
    -1.5,
    True,
    {"fields": 2},
    {"fields": "phone"},
    {"fields": [1, None, {"a": 1}, "phone"]},
    {"fields": {"phone": 1}},
    {"purpose": ["customer_record"]},
    {"purpose": "not_a_purpose"},
    {"purpose": None, "fields": None},
    {"order": {"nested": [1, 2]}},
    {"reason": 12.5, "subjects": "many", "days": None},
    [{"fields": 1}],
    {"a": {"b": [1, 2, {"c": None}]}},
    {"reason": CANARIES["family_name"], "fields": [CANARIES["email"]], "note": CANARIES["phone"]},
    {"opened": "yes", "purpose": 3},
]
ODD_CHANGES = [None, {}, "x", [1, 2], {"phone": ["a", "b"]}, {"": None, "9": 1}]


def _model_pk(model):
    field = model._meta.pk
    return str(uuid.uuid4()) if field.get_internal_type() == "UUIDField" else "42"


def _write_log_entries() -> list[AuditLogEntry]:
    """One create, update, delete and access of every model django-auditlog logs, with odd
    change sets: what the write log holds."""
    entries = []
    for model in auditlog.get_models():
        content_type = ContentType.objects.get_for_model(model)
        for i, action in enumerate(ACTIONS):
            entries.append(
                AuditLogEntry(
                    content_type=content_type,
                    object_pk=_model_pk(model),
                    object_repr=f"{model.__name__} R-1A2B3C4D",
                    action=action,
                    event="",
                    changes=ODD_CHANGES[i % len(ODD_CHANGES)],
                    additional_data=ODD_DATA[i % len(ODD_DATA)],
                    timestamp=timezone.now(),
                )
            )
    return entries


SHAPES_PER_EVENT = 4


def _shapes(i: int) -> list:
    """Four odd shapes for the i-th event, in turn, so that every shape meets many events."""
    return [ODD_DATA[(i * SHAPES_PER_EVENT + k) % len(ODD_DATA)] for k in range(SHAPES_PER_EVENT)]


@pytest.fixture
def every_entry(db, clerk, customer):
    entries, shapes = [], []
    for i, code in enumerate(EVENTS):
        for data in _shapes(i):
            entries.append(audit.event_entry(code, target=customer if i % 2 else None, actor=clerk))
            shapes.append(data)
    # event_entry drops empty data (``data or None``): store each shape exactly as given.
    for entry, data in zip(entries, shapes, strict=True):
        entry.additional_data = data
    entries += _write_log_entries()
    audit.record_many(entries)
    return entries


def test_every_event_renders_on_every_page_and_in_the_csv_whatever_its_data(
    client, administrator, every_entry
):
    login(client, administrator)
    first = client.get("/audit/")
    assert first.status_code == 200
    pages = first.context["page"].paginator.num_pages
    shown = ""
    for number in range(1, pages + 1):
        response = client.get("/audit/", {"page": number})
        assert response.status_code == 200, f"page {number}"
        shown += response.content.decode()
    with translation.override("ja"):
        for code in EVENTS:
            assert str(review.EVENT_LABELS[code]) in shown, code
        for label in review.ACTION_LABELS.values():
            assert str(label) in shown
    for value in CANARIES.values():
        assert value not in shown

    response = client.get("/audit/export.csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    total = AuditLogEntry.objects.count()
    assert rows[-1][0].startswith(f"end of export: {total} entries")  # its own entry too
    assert len(rows) == 1 + total + 1  # header, every entry, end row
    assert {row[3] for row in rows[1:-1]} >= set(EVENTS)
    for value in CANARIES.values():
        assert value not in body


def test_a_correction_from_a_request_on_page_three_no_longer_breaks_the_page(
    client, administrator, clerk
):
    """The reported 500: ``privacy.request.corrected`` stores {"fields": <count>}."""
    audit.record("privacy.request.corrected", actor=clerk, data={"fields": 2})
    audit.record_many([audit.event_entry("auth.login", actor=clerk) for _ in range(2 * 50 + 10)])
    login(client, administrator)
    response = client.get("/audit/", {"page": 3})
    assert response.status_code == 200
    with translation.override("ja"):
        assert str(review.EVENT_LABELS["privacy.request.corrected"]) in response.content.decode()
    body = b"".join(client.get("/audit/export.csv").streaming_content).decode()
    assert "privacy.request.corrected" in body
    assert body.strip().splitlines()[-1].startswith("end of export:")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["fields", "purpose", "order", "reason", "opened", "x", ""])
            # PostgreSQL's jsonb holds no NUL, in keys or values; nothing writes one.
            | st.text(
                st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=8,
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(
    code=st.sampled_from(EVENTS + [""]),
    data=JSON,
    changes=JSON,
    action=st.sampled_from(ACTIONS),
)
def test_any_json_in_an_entry_describes_and_renders(
    client, administrator, clerk, code, data, changes, action
):
    entry = audit.event_entry(code, actor=clerk)
    entry.additional_data, entry.changes, entry.action = data, changes, action
    audit.record_many([entry])
    stored = AuditLogEntry.objects.select_related("actor", "content_type").get(pk=entry.pk)
    described = review.describe(stored)
    assert described["what"] and described["seq"] == stored.seq
    login(client, administrator)
    assert client.get("/audit/").status_code == 200
