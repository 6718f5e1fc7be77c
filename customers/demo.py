"""Realistic Japanese demo data (faker ja_JP) and the demo staff accounts."""

import random
import secrets

from django.contrib.auth.models import Group, User
from django.db import transaction
from faker import Faker
from stdnum import ean
from stdnum import isbn as stdnum_isbn

from customers import services
from customers.models import ContactChannel
from privacy.access import grants as access
from privacy.core import context
from privacy.staff import roles

STAFF = [
    # username, family, given, roles, in counter team
    ("tanaka", "田中", "花子", [roles.CLERK], True),
    ("suzuki", "鈴木", "一郎", [roles.CLERK], False),
    ("yamada", "山田", "店長", [roles.MANAGER], True),
    ("sato-admin", "佐藤", "管理", [roles.ADMINISTRATOR], False),
]

BOOKS = [
    ("銀河鉄道の夜", "宮沢賢治", "岩波書店"),
    ("こころ", "夏目漱石", "新潮社"),
    ("羅生門・鼻", "芥川龍之介", "新潮社"),
    ("雪国", "川端康成", "新潮社"),
    ("人間失格", "太宰治", "角川書店"),
    ("家庭の医学 第8版", "保健同人社編", "保健同人社"),
    ("はじめての園芸", "小川ひかり", "主婦の友社"),
    ("鉄道写真の撮り方", "中村健", "玄光社"),
    ("世界の宗教がわかる本", "石井研士", "PHP研究所"),
    ("Pythonではじめるプログラミング", "森本和也", "技術評論社"),
]


def ensure_groups() -> dict[str, Group]:
    from django.conf import settings

    names = [*roles.ALL, settings.BOOKSHOP_COUNTER_TEAM]
    return {name: Group.objects.get_or_create(name=name)[0] for name in names}


DEMO_RULES = """顧客情報の取扱いルール

1. 顧客情報は、取り寄せ注文のご連絡とお渡しのためだけに使います。
2. アカウントは本人専用です。パスワードや2段階認証のコードを人に教えません。
3. 画面やリストを撮影・コピー・持ち出ししません。印刷物は使い終わったらすぐシュレッダーにかけます。
4. 仕事に必要のない顧客情報は見ません。すべての閲覧は記録され、管理者が確認します。
5. 席を離れるときはログアウトします。
6. 漏えいのおそれに気づいたら、すぐ店長に報告します。
"""


def ensure_rules() -> None:
    """Publish the demo handling rules once, as the demo manager."""
    from privacy.staff import accounts

    if accounts.current_rules() is None:
        accounts.publish_rules(text=DEMO_RULES, by=User.objects.get(username="yamada"))


def ensure_authenticator(user) -> str | None:
    """Demo only: enrol an authenticator for a role that needs two steps, and return its
    secret so that the person trying the demo can add it to an app (or to oathtool)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return None
    device = TOTPDevice.objects.create(user=user, name="demo authenticator", confirmed=True)
    return device.config_url.split("secret=")[1].split("&")[0]


def ensure_staff(*, reset_passwords: bool = False) -> list[tuple[str, str | None, list[str]]]:
    """Create the demo staff once. Returns (username, new password or None, roles)."""
    groups = ensure_groups()
    created = []
    for username, family, given, role_names, in_counter in STAFF:
        user = User.objects.filter(username=username).first()
        password = None
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(
                username=username, password=password, last_name=family, first_name=given
            )
            for name in role_names:
                user.groups.add(groups[name])
            if in_counter:
                user.groups.add(groups[access.counter_team().name])
        elif reset_passwords:
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.save(update_fields=["password"])
        created.append((username, password, role_names))
    return created


def demo_name(pair: tuple[str, ...]) -> tuple[str, str]:
    """(name, its reading) from faker's (kanji, katakana, romaji) pair: the reading belongs
    to that name (faker's separate kana names are drawn apart from the kanji ones, which
    gave 加藤 智也 the reading ヤマモト マイ)."""
    name, kana, *_romaji = pair
    return name, kana


def random_isbn(rng: random.Random) -> str:
    body = "9784" + "".join(str(rng.randint(0, 9)) for _ in range(8))
    return stdnum_isbn.format(body + ean.calc_check_digit(body))


def random_mobile(rng: random.Random) -> str:
    return f"0{rng.choice(['70', '80', '90'])}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"


def seed_customers(count: int, *, seed: int | None = None) -> int:
    """Create ``count`` customers with one to three orders each, through the services."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    fake = Faker("ja_JP")
    if seed is not None:
        fake.seed_instance(seed)
    clerks = list(User.objects.filter(username__in=["tanaka", "yamada"]))
    if not clerks:
        raise RuntimeError("Create the demo staff first.")
    steps = [
        [],
        [services.order_mark_ordered],
        [services.order_mark_ordered, services.order_mark_arrived],
        [services.order_mark_ordered, services.order_mark_arrived, "notify"],
        [
            services.order_mark_ordered,
            services.order_mark_arrived,
            "notify",
            services.order_pick_up,
        ],
    ]
    for _ in range(count):
        clerk = rng.choice(clerks)
        with context.scope(actor=clerk), transaction.atomic():
            channel = rng.choice(ContactChannel.values)
            family_name, family_name_kana = demo_name(fake.last_name_pair())
            given_name, given_name_kana = demo_name(fake.first_name_pair())
            customer_data = {
                "family_name": family_name,
                "given_name": given_name,
                "family_name_kana": family_name_kana,
                "given_name_kana": given_name_kana,
                "phone": random_mobile(rng).replace("-", ""),
                "email": fake.email()
                if channel == ContactChannel.EMAIL or rng.random() < 0.4
                else "",
                "postal_code": fake.zipcode(),
                "address": fake.address()[9:] if rng.random() < 0.5 else "",
                "preferred_contact": channel,
                "notes": "",
            }
            customer = services.customer_create(actor=clerk, data=customer_data)
            notice = {
                "method": rng.choice(["screen", "printed", "read_aloud"]),
                "choices": {"new_release_info": rng.random() < 0.3},
            }
            for _ in range(rng.randint(1, 3)):
                title, author, publisher = rng.choice(BOOKS)
                order = services.order_create(
                    actor=clerk,
                    customer=customer,
                    data={
                        "title": title,
                        "author": author,
                        "publisher": publisher,
                        "isbn": random_isbn(rng),
                        "quantity": 1,
                        "deposit_paid": rng.choice([0, 0, 500, 1000]),
                    },
                    notice=notice,
                )
                notice = None  # told once, at the first order
                for step in rng.choice(steps):
                    if step == "notify":
                        services.order_notify(
                            actor=clerk,
                            order_id=order.pk,
                            channel=ContactChannel.PHONE,
                        )
                    else:
                        step(actor=clerk, order_id=order.pk)
    return count
