"""DATABASE_URL: what each form turns into, and the message for a bad one."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from bookshop.env import database_from_url


def test_sqlite_keeps_its_file_and_writes_ahead():
    config = database_from_url("sqlite:////var/lib/shiori/shiori.sqlite3")
    assert config["NAME"] == "/var/lib/shiori/shiori.sqlite3"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_postgres_prepares_the_pages_queries_unless_told_not_to():
    config = database_from_url("postgres://shiori:pw@db:5432/shiori?sslmode=require")
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db", "5432", "shiori")
    assert config["OPTIONS"] == {
        "sslmode": "require",
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
    behind_pooler = database_from_url("postgres://shiori:pw@pgbouncer/shiori?prepared=off")
    assert behind_pooler["OPTIONS"] == {}


def test_a_bad_value_says_what_to_write():
    with pytest.raises(ImproperlyConfigured, match="prepared= must be on or off"):
        database_from_url("postgres://db/shiori?prepared=sometimes")
    with pytest.raises(ImproperlyConfigured, match="must start with sqlite:/// or postgres://"):
        database_from_url("mysql://db/shiori")
