"""The report a court files: printable HTML, labels in Chinese and English."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

LABELS = {
    "verified": "核验一致 verified",
    "tampered": "数据不一致 tampered",
    "unknown_code": "存证编码不存在 unknown code",
    "not_anchored": "尚未上链 not yet anchored",
    "malformed": "格式错误 malformed",
}
templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
templates.globals["LABELS"] = LABELS


def render_report(job: Any, chain: Any) -> str:
    return templates.get_template("report.html").render(
        job=job, counts=job.counts(), chain_id=chain.config.chain_id, vkey=chain.vkey,
        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"))
