"""`make bench` on a tiny size, so that it never rots. No timing is asserted: only that every
measurement ran against all three variants and the results file says so."""

import json
import subprocess
import sys
from pathlib import Path

from bench import cli

ROOT = Path(__file__).resolve().parent.parent


def test_the_bench_runs_every_measurement_on_a_tiny_sqlite_database(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--sqlite", "--customers", "30", "--repeat", "2",
         "--budget", "0.2", "--audit-entries", "200", "--board-size", "6", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "order board page" in done.stdout and "peak memory" in done.stdout
    run = json.loads(out.read_text())["runs"][0]
    assert (run["database"], run["customers"], run["audit_entries"]) == ("sqlite", 30, 200)
    measured = run["measurements"]
    for name in ["lookup_phone", "lookup_kana_last4", "board", "customer_page"]:
        assert set(measured[name]) == {"shiori", "plain", "fernet"}, name
    for name in ["create_customer_with_order", "export_decrypted"]:
        assert set(measured[name]) == {"shiori", "plain", "fernet"}, name
    assert measured["export_decrypted"]["shiori"]["items"] >= 30  # and those created
    assert measured["audit_verify"]["shiori"]["items"] >= 200
    assert measured["key_rotation"]["shiori"]["items"] >= 30
    assert measured["lookup_phone"]["shiori"]["decrypts"] >= 1
    assert measured["board"]["shiori"]["customers_shown"] == 6
    assert set(run["memory_mb"]) >= {"generate", "lookup", "pages", "export", "rotation"}


def test_blind_index_bits_follow_the_size():
    # About four rows per index value: never a unique match, never a haystack.
    assert cli.index_bits_for(7000) == 10
    assert cli.index_bits_for(100_000) == 14
    assert cli.index_bits_for(1_000_000) == 17
