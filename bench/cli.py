"""`python -m bench`: make a bench database per size, run each measurement in its own process
(so each reports its own peak memory), print a table, and write bench/results/<date>.json.

The bench never measures the database you work in: on PostgreSQL it creates
``<name>_bench_<customers>`` (or ``<name>_<customers>`` when the name already ends in
``_bench``), on SQLite a temporary file. It refuses a database that holds customers it did not
make, unless told ``--yes``.
"""

import argparse
import datetime as dt
import json
import math
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
TASKS = ["lookup", "pages", "create", "export", "import", "audit", "rotation"]
LABELS = {
    "lookup_phone": ("find by phone", "ms"),
    "lookup_kana_last4": ("find by kana + last 4", "ms"),
    "board": ("order board page", "ms"),
    "customer_page": ("customer page", "ms"),
    "create_customer_with_order": ("new customer + order (POST)", "ms"),
    "export_decrypted": ("full decrypted read", "rows/s"),
    "key_rotation": ("key rotation", "keys/s"),
    "audit_verify": ("audit chain verification", "entries/s"),
    "import_7000": ("7,000-row import", "s"),
}


def index_bits_for(customers: int) -> int:
    """CipherSweet's rule: about four rows share each index value (between 2 and sqrt(R))."""
    return max(4, min(31, int(math.log2(max(customers, 16) / 4))))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--customers",
        action="append",
        type=lambda s: int(s.replace(",", "").replace("_", "")),
        help="Customers to generate; repeat for several sizes (default: 7000 and 100000).",
    )
    parser.add_argument("--database", help="Server URL (default: DATABASE_URL, else SQLite).")
    parser.add_argument("--sqlite", action="store_true", help="Use a temporary SQLite file.")
    parser.add_argument("--only", help=f"Comma-separated subset of: {','.join(TASKS)}.")
    parser.add_argument("--repeat", type=int, default=30, help="Runs per page measurement.")
    parser.add_argument("--budget", type=float, default=10.0, help="Seconds per measurement.")
    parser.add_argument("--audit-entries", type=int, default=1_000_000)
    parser.add_argument("--board-size", type=int, default=50, help="Customers on the board.")
    parser.add_argument(
        "--fernet-max",
        type=int,
        default=100_000,
        help="Largest size that also gets the fernet baseline (it cannot search, so its "
        "lookups scan every row).",
    )
    parser.add_argument("--batch", type=int, default=2000, help="Rows per insert batch.")
    parser.add_argument("--rotation-batch", type=int, default=1000)
    parser.add_argument("--index-bits", type=int, help="Blind index bits (default: by size).")
    parser.add_argument("--reuse", action="store_true", help="Keep data made by an earlier run.")
    parser.add_argument("--keep", action="store_true", help="Keep the bench database after.")
    parser.add_argument(
        "--adopt",
        action="store_true",
        help="Measure what a stopped generation left (with --reuse): sizes as found.",
    )
    parser.add_argument("--yes", action="store_true", help="Use a database holding customers.")
    parser.add_argument("--out", help="Results file (default: bench/results/<date>.json).")
    parser.add_argument(
        "--profile",
        help="Comma-separated tasks to profile with pyinstrument (bench/results/profile-*.txt).",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    args.customers = args.customers or [7000, 100_000]
    args.tasks = args.only.split(",") if args.only else list(TASKS)
    unknown = set(args.tasks) - set(TASKS)
    if unknown:
        parser.error(f"unknown task(s): {', '.join(sorted(unknown))}")
    return args


# --- databases --------------------------------------------------------------------------


class BenchDatabase:
    """Where one size's data lives: the database URL and a folder for its keyring."""

    def __init__(self, args, customers: int):
        self.args, self.customers = args, customers
        server = None if args.sqlite else (args.database or os.environ.get("DATABASE_URL"))
        self.postgres = bool(server) and urlparse(server).scheme.startswith("postg")
        if self.postgres:
            parsed = urlparse(server)
            base = parsed.path.lstrip("/") or "shiori"
            stem = base if base.endswith("_bench") else f"{base}_bench"
            self.name = f"{stem}_{customers}"
            self.url = urlunparse(parsed._replace(path=f"/{self.name}"))
            # The server alone: Shiori's own options (?prepared=) mean nothing to psycopg.
            self.admin_url = urlunparse(parsed._replace(path="/postgres", query=""))
            self.folder = ROOT / "var" / "bench" / self.name
            self.temporary = False
        elif args.keep or args.reuse:  # kept beside the PostgreSQL ones, for --reuse
            self.folder = ROOT / "var" / "bench" / f"sqlite_{customers}"
            self.name = str(self.folder / "bench.sqlite3")
            self.url = f"sqlite:///{self.name}"
            self.temporary = False
        else:
            self.folder = Path(tempfile.mkdtemp(prefix=f"shiori-bench-{customers}-"))
            self.name = str(self.folder / "bench.sqlite3")
            self.url = f"sqlite:///{self.name}"
            self.temporary = True
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def vendor(self) -> str:
        return "postgresql" if self.postgres else "sqlite"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def exists(self) -> bool:
        if not self.postgres:
            return Path(self.name).exists()
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.name])
            return row.fetchone() is not None

    def recreate(self) -> None:
        self.drop()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.postgres:
            self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.postgres:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        else:
            Path(self.name).unlink(missing_ok=True)

    def cleanup(self) -> None:
        if self.temporary:
            shutil.rmtree(self.folder, ignore_errors=True)
        elif not self.args.keep and not self.args.reuse:
            self.drop()

    def environment(self, index_bits: int) -> dict:
        secret = self.folder / "secret-key"
        if not secret.exists():
            secret.write_text(secrets.token_urlsafe(64))
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "DJANGO_DEBUG": "0",
                "DJANGO_SECRET_KEY": secret.read_text().strip(),
                "DATABASE_URL": self.url,
                "BOOKSHOP_VAR_DIR": str(self.folder),
                "BOOKSHOP_KEYRING": str(self.folder / "keyring.json"),
                "BOOKSHOP_ERASURE_LEDGER": str(self.folder / "erasure-ledger.jsonl"),
                "BOOKSHOP_AUDIT_CHECKPOINTS": str(self.folder / "audit-checkpoints.jsonl"),
                "BOOKSHOP_BLIND_INDEX_BITS": str(index_bits),
                "BOOKSHOP_OPENING_HOURS": "00:00-24:00",
                "DJANGO_LOG_LEVEL": "WARNING",
            }
        )
        env.pop("DJANGO_SECRET_KEY_FILE", None)
        return env


def run_worker(task: str, cfg: dict, env: dict) -> dict:
    """One task in a child process; returns its result, wall time and peak memory."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.worker", task, json.dumps(cfg), str(out)],
            cwd=ROOT,
            env=env,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"bench: the {task} task failed (exit {proc.returncode}).")
        data = json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    data["peak_rss_mb"] = round(max(data["peak_rss_mb"], usage.ru_maxrss / scale), 1)
    return data


# --- a run ------------------------------------------------------------------------------


def run_size(args, customers: int) -> dict:
    db = BenchDatabase(args, customers)
    bits = args.index_bits or index_bits_for(customers)
    cfg = {
        "customers": customers,
        "seed": args.seed,
        "board_size": min(args.board_size, customers),
        "audit_entries": args.audit_entries,
        "fernet": customers <= args.fernet_max,
        "repeat": args.repeat,
        "budget": args.budget,
        "batch": args.batch,
        "rotation_batch": args.rotation_batch,
        "index_bits": bits,
        "profile": args.profile.split(",") if args.profile else [],
        "profile_dir": str(ROOT / "bench" / "results"),
    }
    env = db.environment(bits)
    print(f"\n== {db.vendor}, {customers:,} customers ({db.name}) ==", file=sys.stderr)
    run = {"database": db.vendor, "customers": customers, "index_bits": bits, "memory_mb": {}}
    try:
        wanted = {k: cfg[k] for k in ("customers", "audit_entries", "index_bits", "fernet")}
        state = run_worker("inspect", cfg, env)["result"] if db.exists() else None
        marker = state and state["marker"]
        if args.adopt and args.reuse and state and not marker:
            marker = run_worker("adopt", cfg, env)["result"]["marker"]
            print(f"  adopted a stopped generation: {marker}", file=sys.stderr)
            cfg.update(customers=marker["customers"], audit_entries=marker["audit_entries"])
            cfg["fernet"] = marker["fernet"]
            run["customers"] = marker["customers"]
            run["target_customers"] = customers
            wanted = {k: cfg[k] for k in ("customers", "audit_entries", "index_bits", "fernet")}
        if state and not marker and state["customers"] and not args.yes:
            raise SystemExit(
                f"bench: {db.name} holds {state['customers']} customers that the bench did not "
                "make. Refusing to touch it; pass --yes to replace it."
            )
        reusable = marker and all(marker[k] == v for k, v in wanted.items() if k != "orders")
        if args.reuse and reusable:
            print("  reusing the data of an earlier run", file=sys.stderr)
            run_worker("migrate", cfg, env)
            run["orders"], run["audit_entries"] = marker["orders"], marker["audit_entries"]
        else:
            db.recreate()
            env = db.environment(bits)
            generated = run_worker("generate", cfg, env)
            run["generate"] = generated["result"]["generate"]
            run["generate"]["wall_s"] = generated["wall_s"]
            run["memory_mb"]["generate"] = generated["peak_rss_mb"]
            run["orders"] = run["generate"]["orders"]
            run["audit_entries"] = run["generate"]["audit_entries"]
        run["measurements"] = {}
        for task in args.tasks:
            print(f"  {task} …", file=sys.stderr, flush=True)
            data = run_worker(task, cfg, env)
            run["memory_mb"][task] = data["peak_rss_mb"]
            run["measurements"].update(data["result"])
    finally:
        db.cleanup()
    add_ratios(run["measurements"])
    return run


def add_ratios(measurements: dict) -> None:
    """Each variant against plaintext: time ratios for timings, plain/variant for rates (so
    above 1 always means slower than plaintext)."""
    for values in measurements.values():
        plain = values.get("plain")
        if not plain:
            continue
        for variant, stats in values.items():
            if variant == "plain" or "status" in stats:
                continue
            if "median_ms" in stats:
                stats["x_plain_median"] = round(stats["median_ms"] / plain["median_ms"], 2)
                stats["x_plain_p95"] = round(stats["p95_ms"] / plain["p95_ms"], 2)
            elif "median_per_s" in stats:
                stats["x_plain_median"] = round(plain["median_per_s"] / stats["median_per_s"], 2)
                stats["x_plain_p95"] = round(plain["p95_per_s"] / stats["p95_per_s"], 2)


def _cell(stats: dict | None) -> str:
    if not stats:
        return "—"
    if "status" in stats:
        return stats["status"][:24]
    if "median_ms" in stats:
        return f"{stats['median_ms']:.2f} / {stats['p95_ms']:.2f}"
    if "median_per_s" in stats:
        return f"{stats['median_per_s']:,.0f} / {stats['p95_per_s']:,.0f}"
    return f"{stats['median_s']:.2f}"


def _ratio(stats: dict | None) -> str:
    return f"{stats['x_plain_median']:.2f}×" if stats and "x_plain_median" in stats else ""


def table(run: dict) -> str:
    head = (
        f"{run['database']}, {run['customers']:,} customers, {run.get('orders', 0):,} orders, "
        f"{run.get('audit_entries', 0):,} audit entries, {run['index_bits']}-bit blind indexes"
    )
    lines = [
        head,
        "median / p95 (ms, or per second for rates); ×plain = shiori or fernet against "
        "plaintext (above 1 is slower)",
        f"{'measurement':<30} {'unit':<10} {'shiori':>22} {'×plain':>8} {'plaintext':>22} "
        f"{'fernet':>22} {'×plain':>8}",
    ]
    for name, values in run.get("measurements", {}).items():
        label, unit = LABELS.get(name, (name, ""))
        lines.append(
            f"{label:<30} {unit:<10} {_cell(values.get('shiori')):>22} "
            f"{_ratio(values.get('shiori')):>8} {_cell(values.get('plain')):>22} "
            f"{_cell(values.get('fernet')):>22} {_ratio(values.get('fernet')):>8}"
        )
    memory = ", ".join(f"{k} {v:.0f}" for k, v in run["memory_mb"].items())
    lines.append(f"peak memory (MB): {memory}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = dt.datetime.now(dt.UTC)
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"{started:%Y-%m-%d}.json"
    # One file a day: a later run of the same database and size replaces the earlier one.
    report = json.loads(out.read_text()) if out.exists() else {"runs": []}
    report["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for customers in args.customers:
        run = run_size(args, customers)
        run["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        run["command"] = command
        if out.exists():  # another run may have written since: merge at write time
            report["runs"] = json.loads(out.read_text())["runs"]
        report["runs"] = [
            r
            for r in report["runs"]
            if (r["database"], r["customers"]) != (run["database"], run["customers"])
        ] + [run]
        print("\n" + table(run), flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nResults written to {out}", flush=True)
    return 0
