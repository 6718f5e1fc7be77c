"""One benchmark task in its own process, so that its peak memory is its own:
``python -m bench.worker TASK CONFIG_JSON OUT_JSON`` (run by bench.cli, never by hand)."""

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

CLERK, MANAGER = "bench-clerk", "bench-manager"
PASSWORD = "bench-password-not-secret-42"  # noqa: S105 - bench-only staff


def _setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()


def _staff():
    from django.contrib.auth.models import User

    return User.objects.get(username=CLERK), User.objects.get(username=MANAGER)


def _variants(cfg) -> list[str]:
    return ["shiori", "plain", "fernet"] if cfg["fernet"] else ["shiori", "plain"]


def _targets(cfg, count: int, *, among: int | None = None) -> list:
    """Deterministic customers to look for, spread over the whole table."""
    from bench import datagen

    rng = random.Random(cfg["seed"] + 17)
    size = among or cfg["customers"]
    indexes = [rng.randrange(size) for _ in range(count)]
    return [datagen.record(cfg["seed"], i, board_size=cfg["board_size"]) for i in indexes]


# --- inspect and generate ---------------------------------------------------------------


def task_inspect(cfg) -> dict:
    """What the bench database holds: the bench marker, or a count of real customers."""
    from django.db import connection

    tables = set(connection.introspection.table_names())
    marker = None
    if "bench_baseline_benchmarker" in tables:
        from bench.baseline.models import BenchMarker

        row = BenchMarker.objects.values().first()
        if row:
            marker = {k: v for k, v in row.items() if k in _MARKER_KEYS}
    customers = None
    if "customers_customer" in tables:
        from customers.models import Customer

        customers = Customer.objects.count()
    return {"marker": marker, "customers": customers, "tables": len(tables)}


_MARKER_KEYS = ("customers", "orders", "audit_entries", "index_bits", "fernet")


def task_adopt(cfg) -> dict:
    """A generation stopped part-way (batches commit in index order): mark what it holds."""
    from bench.baseline.models import BenchMarker, FernetCustomer
    from customers.models import Customer, SpecialOrder
    from privacy.audit.models import AuditLogEntry

    marker = {
        "customers": Customer.objects.count(),
        "orders": SpecialOrder.objects.count(),
        "audit_entries": AuditLogEntry.objects.count(),
        "index_bits": cfg["index_bits"],
        "fernet": FernetCustomer.objects.exists(),
    }
    BenchMarker.objects.all().delete()
    BenchMarker.objects.create(**marker)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {"marker": marker}


def task_migrate(cfg) -> dict:
    """Reused data still gets the code's newest migrations (indexes, say)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return {}


def task_generate(cfg) -> dict:
    from django.contrib.auth.models import User
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from bench import datagen
    from bench.baseline.models import BASELINE_MODELS, BenchMarker
    from customers import demo
    from customers.models import Customer, CustomerGroupObjectPermission
    from privacy.access import grants as access
    from privacy.access.models import AccessGrant, GrantKind
    from privacy.audit import chain as audit_chain
    from privacy.consent import purposes
    from privacy.consent.models import NoticeRecord
    from privacy.core import context
    from privacy.vault import datakeys, keyring

    path = keyring.keyring_path()
    if not path.exists():
        keyring.write_new(keyring.generate(path))
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    with connection.schema_editor() as editor:
        existing = set(connection.introspection.table_names())
        for model in BASELINE_MODELS:
            if model._meta.db_table not in existing:
                editor.create_model(model)
    groups = demo.ensure_groups()
    clerk = User.objects.create_user(CLERK, password=PASSWORD, last_name="Bench")
    clerk.groups.add(groups["clerk"], access.counter_team())
    manager = User.objects.create_user(MANAGER, password=PASSWORD, last_name="Manager")
    manager.groups.add(groups["manager"], access.counter_team())
    purposes.ensure_default_notice()
    notice = purposes.current_notice()
    datakeys.ensure_canary(keyring.load())
    migrate_s = time.perf_counter() - t0

    n, batch, seed = cfg["customers"], cfg["batch"], cfg["seed"]
    now = timezone.now()
    shiori = datagen.ShioriWriter(clerk, now)
    baselines = [datagen.BaselineWriter("plain", clerk, now)]
    if cfg["fernet"]:
        baselines.append(datagen.BaselineWriter("fernet", clerk, now))
    team = access.counter_team()
    from django.contrib.auth.models import Permission

    view = Permission.objects.get(codename="view_customer", content_type__app_label="customers")
    customer_type = ContentType.objects.get_for_model(Customer)

    audit_total = cfg["audit_entries"]
    audit_rng = random.Random(seed + 99)
    audit_start = now - timezone.timedelta(days=365)
    audit_step = timezone.timedelta(days=365) / max(audit_total, 1)
    audit_done = 0

    orders = 0
    bar = datagen.Progress("customers", n)
    timings = {"shiori": 0.0, "plain": 0.0, "fernet": 0.0, "audit": 0.0}
    with context.scope(actor=clerk, remote_addr="127.0.0.1"):
        for start in range(0, n, batch):
            records = [
                datagen.record(seed, i, board_size=cfg["board_size"])
                for i in range(start, min(n, start + batch))
            ]
            with transaction.atomic():
                t = time.perf_counter()
                orders += shiori.write(records)
                timings["shiori"] += time.perf_counter() - t
                for writer, name in zip(baselines, ["plain", "fernet"], strict=False):
                    t = time.perf_counter()
                    writer.write(records)
                    timings[name] += time.perf_counter() - t
                board = [r for r in records if r.index < cfg["board_size"]]
                for rec in board:  # what the order desk grants and records for an open order
                    CustomerGroupObjectPermission.objects.create(
                        content_object_id=rec.id, group=team, permission=view
                    )
                    AccessGrant.objects.create(
                        customer_id=rec.id,
                        group=team,
                        kind=GrantKind.ORDER,
                        reason="special order",
                        granted_by=clerk,
                    )
                    NoticeRecord.objects.create(
                        customer_id=rec.id, notice=notice, method="screen", told_by=clerk
                    )
            # The audit log: this batch's share of the read entries, chained for real.
            share = (audit_total * min(n, start + batch)) // n - audit_done
            t = time.perf_counter()
            for offset in range(0, share, 5000):
                count = min(5000, share - offset)
                entries = datagen.audit_entries_for(
                    records,
                    count,
                    rng=audit_rng,
                    start=audit_start + audit_step * (audit_done + offset),
                    step=audit_step,
                    content_type=customer_type,
                )
                audit_chain.append(entries)
            audit_done += share
            timings["audit"] += time.perf_counter() - t
            bar.update(len(records))
    bar.close()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    BenchMarker.objects.create(
        customers=n,
        orders=orders,
        audit_entries=audit_done,
        index_bits=cfg["index_bits"],
        fernet=cfg["fernet"],
    )
    return {
        "generate": {
            "customers": n,
            "orders": orders,
            "audit_entries": audit_done,
            "migrate_s": round(migrate_s, 1),
            **{f"{k}_s": round(v, 1) for k, v in timings.items()},
        }
    }


# --- measurements -----------------------------------------------------------------------


def _queries(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured)


def task_lookup(cfg) -> dict:
    from bench import measure
    from bench.baseline.models import KINDS
    from customers import selectors
    from privacy.core import context
    from privacy.vault import normalize

    _clerk, manager = _staff()
    targets = _targets(cfg, 200)
    results = {"lookup_phone": {}, "lookup_kana_last4": {}}

    def cycle(fn):
        state = {"i": 0}

        def run():
            rec = targets[state["i"] % len(targets)]
            state["i"] += 1
            found = fn(rec)
            if rec.id not in {c.pk for c in found}:
                raise AssertionError(f"lookup missed customer {rec.index}")

        return run

    def shiori_phone(rec):
        with context.scope(actor=manager):  # one request: a cold data-key cache
            return selectors.find_any_customer(manager, phone=rec.fields["phone"])

    def shiori_kana(rec):
        with context.scope(actor=manager):
            return selectors.find_any_customer(
                manager,
                family_name_kana=rec.fields["family_name_kana"],
                last4=rec.fields["phone"][-4:],
            )

    def plain_phone(rec):
        return list(KINDS["plain"][0].objects.filter(phone=rec.fields["phone"]))

    def plain_kana(rec):
        return list(
            KINDS["plain"][0].objects.filter(
                family_name_kana=rec.fields["family_name_kana"],
                phone__endswith=rec.fields["phone"][-4:],
            )
        )

    def fernet_phone(rec):  # the package cannot search: scan and decrypt one column
        wanted = rec.fields["phone"]
        rows = KINDS["fernet"][0].objects.only("id", "phone").iterator(chunk_size=2000)
        return [c for c in rows if normalize.phone(c.phone) == wanted]

    def fernet_kana(rec):
        kana, last4 = rec.fields["family_name_kana"], rec.fields["phone"][-4:]
        rows = KINDS["fernet"][0].objects.only("id", "family_name_kana", "phone")
        return [
            c
            for c in rows.iterator(chunk_size=2000)
            if c.phone.endswith(last4) and normalize.kana(c.family_name_kana) == kana
        ]

    fns = {
        "lookup_phone": {"shiori": shiori_phone, "plain": plain_phone, "fernet": fernet_phone},
        "lookup_kana_last4": {"shiori": shiori_kana, "plain": plain_kana, "fernet": fernet_kana},
    }
    from privacy.vault import crypto

    for name, by_variant in fns.items():
        runs = {variant: cycle(by_variant[variant]) for variant in _variants(cfg)}
        samples = measure.interleaved(runs, repeat=cfg["repeat"] * 5, budget=cfg["budget"])
        for variant, fn in runs.items():
            times = samples[variant]
            extra = {"queries": _queries(fn)}
            if variant == "shiori":
                before = crypto.counters["decrypt"]
                fn()
                extra["decrypts"] = crypto.counters["decrypt"] - before
            results[name][variant] = measure.timing(times, **extra)
    return results


def _client(user):
    """A test client logged in as ``user`` at one of the shop's registered terminals: customer
    pages show customers only there (privacy.staff.terminals). The manager registers it as the
    terminal page does, and the client holds the device cookie that page sets."""
    from django.http import HttpResponse
    from django.test import Client

    from privacy.core import context
    from privacy.staff import terminals

    _clerk, manager = _staff()
    with context.scope(actor=manager, remote_addr="127.0.0.1"):
        terminal, secret = terminals.register(f"bench {terminals.active().count() + 1}", by=manager)
    response = HttpResponse()
    terminals.set_cookie(response, terminal, secret)
    client = Client(raise_request_exception=True)
    client.cookies.update(response.cookies)
    client.force_login(user)
    return client


def task_pages(cfg) -> dict:
    from django.db import connection

    from bench import measure
    from customers.selectors import BOARD_PAGE_SIZE

    clerk, _manager = _staff()
    client = _client(clerk)
    page_customer = _targets(cfg, 1, among=cfg["board_size"])[0].id
    prefix = {"shiori": "", "plain": "/bench/plain", "fernet": "/bench/fernet"}
    results = {"board": {}, "customer_page": {}}
    # The board shows one page of open orders (customers.selectors.BOARD_PAGE_SIZE).
    shown = min(cfg["board_size"], BOARD_PAGE_SIZE)
    for name in results:
        gets, firsts = {}, {}
        for variant in _variants(cfg):
            url = {
                "board": f"{prefix[variant]}/board/",
                "customer_page": f"{prefix[variant]}/customers/{page_customer}/",
            }[name]

            def get(url=url):
                response = client.get(url)
                if response.status_code != 200:
                    raise AssertionError(f"{url} answered {response.status_code}")
                return response

            gets[variant], firsts[variant] = get, get()
            if name == "board":
                cards = firsts[variant].content.count(b'class="order-card"')
                if cards != shown:
                    raise AssertionError(f"{url} shows {cards} orders, not {shown}")
        samples = measure.interleaved(gets, repeat=cfg["repeat"], budget=cfg["budget"])
        for variant, get in gets.items():
            extra = {"queries": _queries(get), "bytes": len(firsts[variant].content)}
            if name == "board":
                extra["customers_shown"] = shown
            results[name][variant] = measure.timing(samples[variant], **extra)
    connection.close()
    return results


def task_create(cfg) -> dict:
    from django.utils import timezone

    from bench import datagen, measure
    from bench.baseline.models import KINDS
    from customers import services
    from customers.models import OrderStatus, SpecialOrder
    from privacy.core import context

    clerk, _manager = _staff()
    client = _client(clerk)
    urls = {"shiori": "/orders/new/", "plain": "/bench/plain/orders/new/"}
    urls["fernet"] = "/bench/fernet/orders/new/"
    counter = {"i": 0}
    results = {"create_customer_with_order": {}}
    posts = {}
    for variant in _variants(cfg):

        def post(variant=variant):
            counter["i"] += 1
            # New people: indexes far above the generated ones, so phones never collide.
            rec = datagen.record(cfg["seed"], 50_000_000 + counter["i"], board_size=0)
            data = {f"customer-{k}": v for k, v in rec.fields.items()}
            data.update({f"order-{k}": v for k, v in rec.orders[0][1].items()})
            data.update(
                {
                    "action": "create",
                    "notice-method": "screen",
                    "customer-preferred_contact": rec.preferred_contact,
                    "order-quantity": "1",
                    "order-deposit_paid": "500",
                }
            )
            response = client.post(urls[variant], data)
            if response.status_code != 302:
                raise AssertionError(f"{urls[variant]} answered {response.status_code}")

        posts[variant] = post
    started = timezone.now()
    samples = measure.interleaved(posts, repeat=cfg["repeat"], budget=cfg["budget"])
    for variant, post in posts.items():
        results["create_customer_with_order"][variant] = measure.timing(
            samples[variant], queries=_queries(post)
        )
    # The new orders leave the board, so that a later run on this data (--reuse) shows the
    # board it was made with.
    with context.scope(actor=clerk):  # as a command would run it
        for order in SpecialOrder.objects.filter(requested_at__gte=started):  # the service
            services.order_cancel(actor=clerk, order_id=order.pk, reason="bench")
    for _customers, orders in KINDS.values():
        orders.objects.filter(requested_at__gte=started).update(status=OrderStatus.CANCELLED)
    return results


def task_export(cfg) -> dict:
    """Every customer's nine personal fields, decrypted, streamed in primary-key batches of
    2,000 rows as plain tuples (no model instances) in all three variants."""
    from bench import datagen, measure
    from bench.baseline.models import KINDS
    from customers.models import Customer
    from privacy.core import context
    from privacy.vault import bulk, gate

    fields, batch = datagen.CUSTOMER_FIELDS, 2000
    # The measurement is the vault's decryption, with the gate's check on every row; the
    # access decision for every customer (and its read entries) is not part of it.

    def shiori():
        total = 0
        for _pk, values in bulk.decrypted_rows(Customer, fields, batch=batch):
            total += len(values) == len(fields)
        return total

    def baseline(model):
        total, last = 0, None
        while True:
            page = model.objects.order_by("pk")
            if last is not None:
                page = page.filter(pk__gt=last)
            rows = list(page.values_list("pk", *fields)[:batch])
            if not rows:
                return total
            total += sum(len(row) == len(fields) + 1 for row in rows)
            last = rows[-1][0]

    readers = {
        "shiori": shiori,
        "plain": lambda: baseline(KINDS["plain"][0]),
        "fernet": lambda: baseline(KINDS["fernet"][0]),
    }
    counted = {}

    def run(variant):
        def read():
            counted[variant] = readers[variant]()

        return read

    runs = {variant: run(variant) for variant in _variants(cfg)}
    with context.scope():
        gate.admit(
            Customer.objects.values_list("pk", flat=True).iterator(), actor_id=None, purpose="bench"
        )
        samples = measure.interleaved(
            runs, repeat=cfg["repeat"], budget=cfg["budget"] * 3, warmup=0
        )
    return {
        "export_decrypted": {
            variant: measure.throughput(samples[variant], counted[variant]) for variant in runs
        }
    }


def task_rotation(cfg) -> dict:
    from bench import measure
    from privacy.core import context
    from privacy.ops import rotation

    clerk, _manager = _staff()
    done = {}

    def run():
        with context.scope(actor=clerk):
            result = rotation.rotate(batch=cfg["rotation_batch"])
        if result.remaining:
            raise AssertionError(f"rotation left {result.remaining} data keys")
        done["keys"] = result.rewrapped

    times = measure.sample(run, repeat=min(cfg["repeat"], 3), budget=cfg["budget"], warmup=0)
    return {"key_rotation": {"shiori": measure.throughput(times, done["keys"])}}


def task_audit(cfg) -> dict:
    from bench import measure
    from privacy.audit import chain as audit_chain

    checked = {}

    def run():
        result = audit_chain.verify()
        if not result.ok:
            raise AssertionError(f"audit chain broken: {result.problem}")
        checked["entries"] = result.entries

    times = measure.sample(run, repeat=min(cfg["repeat"], 3), budget=cfg["budget"], warmup=0)
    return {"audit_verify": {"shiori": measure.throughput(times, checked["entries"])}}


def task_import(cfg) -> dict:
    """The shop's 7,000-row spreadsheet through customers.importing, where it exists."""
    try:
        from customers import importing
    except ImportError:
        return {"import_7000": {"shiori": {"status": "n/a: customers.importing not present"}}}
    import csv

    from bench import datagen

    _clerk, manager = _staff()
    rows = 7000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "customers.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(datagen.CUSTOMER_FIELDS)
            for k in range(rows):
                rec = datagen.record(cfg["seed"], 60_000_000 + k, board_size=0)
                writer.writerow([rec.fields[name] for name in datagen.CUSTOMER_FIELDS])
        mapping = {name: name for name in datagen.CUSTOMER_FIELDS}
        t0 = time.perf_counter()
        importing.import_customers(
            path,
            mapping=mapping,
            dry_run=False,
            skip_invalid=True,
            rejects_path=Path(folder) / "rejects.csv",
            actor=manager,  # imports are a manager's act
        )
        took = time.perf_counter() - t0
    return {"import_7000": {"shiori": {"median_s": round(took, 2), "items": rows, "n": 1}}}


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


TASKS = {
    "inspect": task_inspect,
    "migrate": task_migrate,
    "adopt": task_adopt,
    "generate": task_generate,
    "lookup": task_lookup,
    "pages": task_pages,
    "create": task_create,
    "export": task_export,
    "import": task_import,
    "audit": task_audit,
    "rotation": task_rotation,
}


def main(argv: list[str]) -> int:
    task, config_json, out = argv
    cfg = json.loads(config_json)
    _setup_django()
    profile = None
    if task in cfg.get("profile", []):
        from pyinstrument import Profiler

        profile = Profiler()
        profile.start()
    t0 = time.perf_counter()
    result = TASKS[task](cfg)
    wall = time.perf_counter() - t0
    if profile is not None:
        profile.stop()
        name = f"profile-{task}-{cfg['customers']}.txt"
        Path(cfg["profile_dir"], name).write_text(profile.output_text(unicode=True))
    Path(out).write_text(
        json.dumps({"result": result, "wall_s": round(wall, 2), "peak_rss_mb": peak_rss_mb()})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
