"""The reports a court files: printable HTML (labels in Chinese and English) and CSV.

The printable report is a standalone file (saved by `fivechains court verify --report`), so its
style sheet stays inline; its SHA-256 goes into the Content-Security-Policy instead.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import time
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .holders import UNAVAILABLE_NOTE, holder_line

__all__ = ["LABELS", "templates", "render_report", "csv_report", "REPORT_CSS_HASH"]

LABELS = {
    "verified": "核验一致 verified",
    "tampered": "数据不一致 tampered",
    "unknown_code": "存证编码不存在 unknown code",
    "not_anchored": "尚未上链 not yet anchored",
    "malformed": "格式错误 malformed",
    "not_checked": "未核验（超出限额） not checked (limit reached)",
}
HERE = Path(__file__).parent
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
templates.globals["LABELS"] = LABELS
templates.globals["holder_line"] = holder_line  # plain text: the templates' autoescape escapes it
templates.globals["HOLDERS_UNAVAILABLE"] = UNAVAILABLE_NOTE
REPORT_CSS = (HERE / "static" / "report.css").read_text()
REPORT_CSS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(REPORT_CSS.encode()).digest()).decode()
CSV_COLUMNS = ["code", "verdict", "path", "line", "lender_id", "deposit_time_ms", "supervision_index", "judicial_index", "detail"]


def render_report(job: Any, chain: Any) -> str:
    return templates.get_template("report.html").render(
        job=job, counts=job.counts(), chain_id=chain.config.chain_id, vkey=chain.vkey, css=REPORT_CSS,
        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"))


def csv_report(job: Any) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(job.results)
    return out.getvalue()
