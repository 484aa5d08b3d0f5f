"""Shared by the benchmark scripts: describe the machine, write one section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nWritten by `./scripts/bench`; each section by its own run. Figures are medians unless marked.\n"


def machine_summary() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def write_section(key: str, title: str, body: str) -> None:
    """Replace (or add) the section between the markers for ``key``; leave the others alone."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    section = f"{start}\n## {title}\n\n{body}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
    BENCHMARKS.write_text(text)
    print(f"wrote the {key!r} section of {BENCHMARKS.name}")


def results_table(rows: list[tuple[str, str, str, str, str]]) -> list[str]:
    """Markdown lines: measure | result | ratio | target | met."""
    return ["| measure | result | ratio | target | |", "|---|---|---|---|---|", *[f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]]
