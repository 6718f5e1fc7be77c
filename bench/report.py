"""`python -m bench.report bench/results/<date>.json`: the results as a Markdown table (for the
README): median (p95) per database and size, with the ratio to plaintext."""

import json
import sys
from pathlib import Path

from bench.cli import LABELS


def _fmt(stats: dict | None) -> str:
    if not stats:
        return "—"
    if "status" in stats:
        return "n/a"
    if "median_ms" in stats:
        text = f"{stats['median_ms']:.1f} ({stats['p95_ms']:.1f}) ms"
    elif "median_per_s" in stats:
        text = f"{stats['median_per_s']:,.0f}/s"
    else:
        text = f"{stats['median_s']:.1f} s"
    if "x_plain_median" in stats:
        text += f", {stats['x_plain_median']:.2f}×"
    return text


def markdown(report: dict) -> str:
    lines = []
    for run in report["runs"]:
        lines.append(
            f"\n**{run['database']}, {run['customers']:,} customers** "
            f"({run.get('orders', 0):,} orders, {run.get('audit_entries', 0):,} audit entries; "
            f"{run.get('date', '')[:10]})\n"
        )
        lines.append("| measurement | Shiori | plaintext | fernet package |")
        lines.append("| --- | --- | --- | --- |")
        for name, values in run.get("measurements", {}).items():
            label = LABELS.get(name, (name, ""))[0]
            lines.append(
                f"| {label} | {_fmt(values.get('shiori'))} | {_fmt(values.get('plain'))} | "
                f"{_fmt(values.get('fernet'))} |"
            )
        memory = ", ".join(f"{k} {v:.0f}" for k, v in run.get("memory_mb", {}).items())
        lines.append(f"| peak memory (MB) | {memory} | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
