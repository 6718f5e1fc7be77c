"""Synthetic customers and orders for the benchmark, written in batches.

Each customer is a pure function of (seed, index), so any process can tell what customer 12,345
holds without keeping a million rows in memory. Shiori's rows are encrypted through the real
path (a data key per customer wrapped by the keyring, AES-GCM bound to model, field and row,
blind indexes by the fields' own code) but inserted with bulk_create, batch by batch.
"""

import random
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from stdnum import ean
from stdnum import isbn as stdnum_isbn

FAMILY = [
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"),
    ("伊藤", "イトウ"), ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"),
    ("小林", "コバヤシ"), ("加藤", "カトウ"), ("吉田", "ヨシダ"), ("山田", "ヤマダ"),
    ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"), ("井上", "イノウエ"),
    ("木村", "キムラ"), ("林", "ハヤシ"), ("斎藤", "サイトウ"), ("清水", "シミズ"),
    ("山崎", "ヤマザキ"), ("森", "モリ"), ("池田", "イケダ"), ("橋本", "ハシモト"),
    ("阿部", "アベ"), ("石川", "イシカワ"), ("山下", "ヤマシタ"), ("中島", "ナカジマ"),
    ("石井", "イシイ"), ("小川", "オガワ"), ("前田", "マエダ"), ("岡田", "オカダ"),
]  # fmt: skip
GIVEN = [
    ("花子", "ハナコ"), ("太郎", "タロウ"), ("陽菜", "ヒナ"), ("蓮", "レン"), ("結衣", "ユイ"),
    ("大翔", "ヒロト"), ("美咲", "ミサキ"), ("翔太", "ショウタ"), ("さくら", "サクラ"),
    ("健", "ケン"), ("愛", "アイ"), ("誠", "マコト"), ("由美", "ユミ"), ("浩", "ヒロシ"),
    ("明美", "アケミ"), ("拓也", "タクヤ"), ("真由美", "マユミ"), ("一郎", "イチロウ"),
]  # fmt: skip
PLACES = [
    "東京都千代田区神田", "大阪府大阪市北区梅田", "京都府京都市中京区", "北海道札幌市中央区",
    "福岡県福岡市博多区", "愛知県名古屋市中区栄", "宮城県仙台市青葉区", "広島県広島市中区",
]  # fmt: skip
BOOKS = [
    ("銀河鉄道の夜", "宮沢賢治", "岩波書店"), ("こころ", "夏目漱石", "新潮社"),
    ("雪国", "川端康成", "新潮社"), ("人間失格", "太宰治", "角川書店"),
    ("家庭の医学 第8版", "保健同人社編", "保健同人社"),
    ("はじめての園芸", "小川ひかり", "主婦の友社"),
    ("世界の宗教がわかる本", "石井研士", "PHP研究所"), ("鉄道写真の撮り方", "中村健", "玄光社"),
]  # fmt: skip
NOTES = ["", "", "", "平日の夕方に連絡希望", "店頭受け取り", "シリーズ続刊も予約"]


def _isbn(n: int) -> str:
    body = f"9784{n:08d}"
    return stdnum_isbn.format(body + ean.calc_check_digit(body))


ISBNS = [_isbn(1_000_000 + 7_919 * k) for k in range(200)]

CUSTOMER_FIELDS = [
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
ORDER_FIELDS = ["title", "author", "publisher", "isbn"]
CLOSED = ("picked_up", "cancelled")
OPEN = ("requested", "ordered", "arrived", "notified")


@dataclass
class Record:
    index: int
    id: uuid.UUID
    fields: dict
    preferred_contact: str
    orders: list  # [(uuid, {title, author, publisher, isbn}, quantity, status, age_days)]


def phone_for(index: int) -> str:
    """A distinct valid mobile number for each index below 10**8 (7919 is prime to 10**8)."""
    return f"090{(index * 7_919 + 12_345) % 100_000_000:08d}"


def record(seed: int, index: int, *, board_size: int) -> Record:
    rng = random.Random(seed * 1_000_003 + index)
    family, family_kana = rng.choice(FAMILY)
    given, given_kana = rng.choice(GIVEN)
    email = f"c{index}.{rng.randrange(10**6)}@example.jp" if rng.random() < 0.6 else ""
    fields = {
        "family_name": family,
        "given_name": given,
        "family_name_kana": family_kana,
        "given_name_kana": given_kana,
        "phone": phone_for(index),
        "email": email,
        "postal_code": f"{rng.randrange(100, 1000)}-{rng.randrange(10_000):04d}",
        "address": f"{rng.choice(PLACES)}{rng.randrange(1, 10)}-{rng.randrange(1, 30)}-"
        f"{rng.randrange(1, 20)}",
        "notes": rng.choice(NOTES),
    }
    orders = []
    count = 2 if rng.random() < 0.5 else 1
    for k in range(count):
        title, author, publisher = rng.choice(BOOKS)
        book = {"title": title, "author": author, "publisher": publisher}
        book["isbn"] = rng.choice(ISBNS)
        # The first board_size customers each have one open order: the board shows them.
        if index < board_size and k == 0:
            status = OPEN[index % len(OPEN)]
        else:
            status = CLOSED[0] if rng.random() < 0.9 else CLOSED[1]
        order_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        orders.append((order_id, book, rng.randint(1, 3), status, rng.randrange(1, 700)))
    contact = "email" if email and rng.random() < 0.5 else "phone"
    return Record(index, uuid.UUID(int=rng.getrandbits(128), version=4), fields, contact, orders)


class Progress:
    """A progress bar on stderr, at most a few updates a second."""

    def __init__(self, label: str, total: int, *, stream=sys.stderr):
        self.label, self.total, self.stream = label, max(total, 1), stream
        self.done, self.start, self.shown = 0, time.perf_counter(), 0.0

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.shown < 0.5 and self.done < self.total:
            return
        self.shown = now
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed else 0.0
        eta = (self.total - self.done) / rate if rate else 0.0
        filled = int(30 * self.done / self.total)
        self.stream.write(
            f"\r  {self.label:<16} [{'#' * filled}{'.' * (30 - filled)}] "
            f"{self.done:>9,}/{self.total:,} {rate:>9,.0f}/s ETA {eta:5.0f}s"
        )
        self.stream.flush()

    def close(self) -> None:
        elapsed = time.perf_counter() - self.start
        self.stream.write(f"\r  {self.label:<16} {self.done:,} in {elapsed:.1f}s{' ' * 50}\n")
        self.stream.flush()


class ShioriWriter:
    """Encrypts records the way the models do and inserts them in bulk: a data key per
    customer wrapped by the keyring, each value sealed by privacy.crypto under that key with
    ``app.model.field:pk`` as associated data, blind indexes by the fields' own code. Rows go
    in through bench.fastinsert (no model instance per row)."""

    def __init__(self, clerk, now):
        from customers.models import Customer, SpecialOrder
        from privacy.vault import keyring
        from privacy.vault.blind_index import BlindIndexField

        self.ring = keyring.load()
        self.clerk, self.now = clerk, now
        self.customer_fields = [_sealer(Customer, n) for n in CUSTOMER_FIELDS]
        self.order_fields = [_sealer(SpecialOrder, n) for n in ORDER_FIELDS]
        self.customer_bidx = [
            (f.attname, f.source, f.value_for)
            for f in Customer._meta.concrete_fields
            if isinstance(f, BlindIndexField)
        ]
        self.order_bidx = [
            (f.attname, f.source, f.value_for)
            for f in SpecialOrder._meta.concrete_fields
            if isinstance(f, BlindIndexField)
        ]

    def write(self, records: list[Record]) -> int:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        from bench import fastinsert
        from customers.models import Customer, SpecialOrder
        from privacy.vault import crypto, datakeys
        from privacy.vault.models import DataKey

        seal, now, kek_id = crypto.seal, self.now, self.ring.active_kek_id
        clerk_id = self.clerk.pk
        keys, customers, orders = [], [], []
        for rec in records:
            dek = crypto.new_key()
            aead = AESGCM(dek)
            keys.append(
                {
                    "subject_id": rec.id,
                    "kek_id": kek_id,
                    "wrapped": datakeys.wrap(self.ring, rec.id, dek),
                    "created_at": now,
                    "rewrapped_at": None,
                }
            )
            suffix = str(rec.id).encode()
            customer = {
                "id": rec.id,
                "preferred_contact": rec.preferred_contact,
                "created_at": now,
                "last_confirmed_at": now,
            }
            values = rec.fields
            for attname, prefix in self.customer_fields:
                customer[attname] = seal(aead, values[attname].encode(), prefix + suffix)
            for attname, source, value_for in self.customer_bidx:
                customer[attname] = value_for(values[source])
            customers.append(customer)
            for order_id, book, quantity, status, age in rec.orders:
                order = {
                    "id": order_id,
                    "customer_id": rec.id,
                    "quantity": quantity,
                    "status": status,
                    "requested_at": now - timedelta(days=age),
                    "requested_by_id": clerk_id,
                }
                order_suffix = str(order_id).encode()
                for attname, prefix in self.order_fields:
                    order[attname] = seal(aead, book[attname].encode(), prefix + order_suffix)
                for attname, source, value_for in self.order_bidx:
                    order[attname] = value_for(book[source])
                orders.append(order)
        fastinsert.insert(DataKey, keys, now=now)
        fastinsert.insert(Customer, customers, now=now)
        fastinsert.insert(SpecialOrder, orders, now=now)
        return len(orders)


def _sealer(model, name: str) -> tuple[str, bytes]:
    """A field's attribute name and the associated-data prefix its own code uses."""
    field = model._meta.get_field(name)
    probe = model(pk=uuid.UUID(int=0))
    prefix = field.associated_data(probe)[: -len(str(probe.pk))]
    return field.attname, prefix


class BaselineWriter:
    """The same records into the plaintext or fernet tables (the package encrypts each value
    in its own get_db_prep_save, as on any insert)."""

    def __init__(self, kind: str, clerk, now):
        from bench.baseline.models import KINDS

        self.customer_model, self.order_model = KINDS[kind]
        self.clerk, self.now = clerk, now

    def write(self, records: list[Record]) -> None:
        from bench import fastinsert

        customers, orders = [], []
        now, clerk_id = self.now, self.clerk.pk
        for rec in records:
            customers.append(
                {
                    "id": rec.id,
                    "preferred_contact": rec.preferred_contact,
                    "created_at": now,
                    "last_confirmed_at": now,
                    **rec.fields,
                }
            )
            for order_id, book, quantity, status, age in rec.orders:
                orders.append(
                    {
                        "id": order_id,
                        "customer_id": rec.id,
                        "quantity": quantity,
                        "status": status,
                        "requested_at": now - timedelta(days=age),
                        "requested_by_id": clerk_id,
                        **book,
                    }
                )
        fastinsert.insert(self.customer_model, customers, now=now)
        fastinsert.insert(self.order_model, orders, now=now)


def audit_entries_for(records: list[Record], count: int, *, rng, start, step, content_type):
    """``count`` read entries about these customers, as the pages write them (copies of one
    entry, as privacy.audit.record_reads makes them)."""
    from privacy.audit.log import _copy
    from privacy.audit.models import AuditLogEntry

    purposes = ["order_desk", "customer_record", "customer_lookup", "shipment"]
    first = AuditLogEntry(
        content_type=content_type,
        object_pk="",
        object_repr="",
        action=AuditLogEntry.Action.ACCESS,
        event="customers.customer.read",
        changes=None,
        additional_data=None,
        timestamp=start,
    )
    entries = []
    for k in range(count):
        rec = rng.choice(records)
        entries.append(
            _copy(
                first,
                object_pk=str(rec.id),
                object_repr=f"Customer C-{rec.id.hex[:8].upper()}",
                additional_data={"purpose": rng.choice(purposes), "fields": ["phone"]},
                timestamp=start + step * k,
            )
        )
    return entries
