import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from privacy.ops import startup
from privacy.vault import keyring

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def keyring_at(tmp_path, settings):
    """Point BOOKSHOP_KEYRING somewhere new for one test."""
    path = tmp_path / "keys" / "keyring.json"
    settings.BOOKSHOP_KEYRING = str(path)
    yield path
    keyring._CACHE.clear()


def test_keys_init_creates_a_private_keyring(keyring_at, capsys):
    call_command("keys", "init")
    assert stat.S_IMODE(keyring_at.stat().st_mode) == 0o600
    ring = keyring.load()
    assert ring.active_kek_id in ring.keks
    assert "Created keyring" in capsys.readouterr().out


def test_keys_init_refuses_to_overwrite(keyring_at):
    call_command("keys", "init")
    before = keyring_at.read_bytes()
    with pytest.raises(CommandError, match="refusing to overwrite"):
        call_command("keys", "init")
    assert keyring_at.read_bytes() == before


def test_a_keyring_readable_by_others_is_refused(keyring_at):
    call_command("keys", "init")
    keyring_at.chmod(0o644)
    with pytest.raises(keyring.KeyringError, match="chmod 600"):
        keyring.load()


def test_a_damaged_keyring_is_refused_with_a_clear_message(keyring_at):
    keyring_at.parent.mkdir(parents=True)
    keyring_at.write_text("{not json")
    keyring_at.chmod(0o600)
    with pytest.raises(keyring.KeyringError, match="not valid JSON"):
        keyring.load()


def test_the_repr_of_a_keyring_shows_no_key_material(keyring_at):
    call_command("keys", "init")
    ring = keyring.load()
    text = repr(ring)
    for key in ring.keks.values():
        assert key.hex() not in text


def test_keys_status_counts_data_keys_per_key(customer, capsys):
    call_command("keys", "status")
    out = capsys.readouterr().out
    ring = keyring.load()
    assert f"{ring.active_kek_id} (active): wraps 1 data keys" in out


def test_startup_accepts_the_keyring_the_data_was_made_with(customer):
    assert startup.verify_keyring().active_kek_id


def test_startup_refuses_a_different_keyring(customer, keyring_at):
    call_command("keys", "init")  # a new, unrelated keyring
    with pytest.raises(startup.KeyringError, match="does not match the data") as error:
        startup.verify_keyring()
    assert "BOOKSHOP_KEYRING" in str(error.value)


def _manage(*args, keyring_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bookshop.test_settings",
        "BOOKSHOP_KEYRING": str(keyring_path),
        "DATABASE_URL": f"sqlite:///{keyring_path.parent / 'db.sqlite3'}",
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "command", [["migrate", "--noinput"], ["runserver", "--noreload", "127.0.0.1:0"]]
)
def test_without_a_keyring_the_app_stops_and_says_what_to_set(tmp_path, command):
    result = _manage(*command, keyring_path=tmp_path / "missing.json")
    assert result.returncode != 0
    assert "BOOKSHOP_KEYRING" in result.stderr
    assert "keys init" in result.stderr


def test_keys_init_works_before_anything_else(tmp_path):
    path = tmp_path / "fresh.json"
    result = _manage("keys", "init", keyring_path=path)
    assert result.returncode == 0, result.stderr
    assert path.exists()
    assert str(path) != settings.BOOKSHOP_KEYRING
