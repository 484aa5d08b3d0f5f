"""`fivechains court verify`: a court checks a case's evidence against the judicial chain."""

from __future__ import annotations

import base64
import html
import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import httpx
import typer

from .output import console, emit_json, fail, progress_bar

court_app = typer.Typer(help="The court's tools: verify evidence by deposit code.", no_args_is_help=True)
LABELS = {"verified": "verified 核验一致", "tampered": "tampered 数据不一致", "unknown_code": "unknown code 存证编码不存在",
          "not_anchored": "not yet anchored 尚未上链", "malformed": "malformed 格式错误"}


def load_items(source: Path) -> list[dict[str, Any]]:
    """Items from a receipts.json written by `fivechains lender deposit` (records read beside it),
    a directory holding one, or a plain JSON list of {code, digest}."""
    manifest = source / "receipts.json" if source.is_dir() else source
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise fail(f"cannot read {manifest}: {exc}") from None
    base = manifest.parent
    rows = document["items"] if isinstance(document, dict) else document
    items = []
    for row in rows:
        item: dict[str, Any] = {"code": row.get("deposit_code") or row.get("code") or "", "salt": row.get("salt")}
        path = row.get("path")
        if path:
            item["path"] = path
            file = Path(path) if Path(path).is_absolute() else base / path
            if not file.exists():
                file = Path(path)
            if file.exists():
                if row.get("line"):
                    item["line"] = row["line"]
                    item["record"] = json.loads(file.read_text(encoding="utf-8").splitlines()[row["line"] - 1])
                else:
                    item["content_b64"] = base64.b64encode(file.read_bytes()).decode()
        if "record" not in item and "content_b64" not in item:
            item["digest"] = row.get("digest")
        items.append({k: v for k, v in item.items() if v is not None})
    return items


def write_report(path: Path, case_id: str, result: dict[str, Any]) -> None:
    rows = "".join(
        f"<tr><td>{html.escape(str(i.get('path', '')))}{(':' + str(i['line'])) if i.get('line') else ''}</td><td>{html.escape(i['code'])}</td>"
        f"<td class='{i['verdict']}'>{LABELS[i['verdict']]}</td><td>{html.escape(str(i.get('lender_id', '')))}</td>"
        f"<td>{html.escape(str(i.get('deposit_ms', '')))}</td><td>{html.escape(i['detail'])}</td></tr>" for i in result["items"])
    counts = " · ".join(f"{LABELS[k]}: {v}" for k, v in result["counts"].items())
    path.write_text(f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>存证核验报告 Evidence verification report — {html.escape(case_id)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #999;padding:4px;font-size:12px}}
.verified{{color:#060}}.tampered,.unknown_code,.malformed{{color:#a00}}@media print{{body{{margin:0}}}}</style></head><body>
<h1>存证核验报告 · Evidence verification report</h1><p>案号 Case: {html.escape(case_id)} · 生成时间 Generated: {time.strftime('%Y-%m-%d %H:%M:%S')}</p>
<p>{counts}</p><table><tr><th>证据 Evidence</th><th>存证编码 Code</th><th>结论 Verdict</th><th>存证人 Depositor</th><th>存证时间 Deposit time (ms)</th><th>说明 Detail</th></tr>
{rows}</table></body></html>""", encoding="utf-8")


@court_app.command("verify")
def verify(
    source: Annotated[Path, typer.Argument(help="receipts.json from the lender (records beside it), a directory holding it, or a JSON list of {code, digest}.")],
    portal: Annotated[str, typer.Option("--portal", help="Court portal URL.")],
    token: Annotated[Optional[str], typer.Option("--token", envvar="FIVECHAINS_TOKEN", help="A judge's API token (or FIVECHAINS_TOKEN).")] = None,
    case_id: Annotated[str, typer.Option("--case", help="Case number, for the log and the report.")] = "unspecified",
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a printable HTML report here.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print {counts, items} as JSON.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the batch.")] = 600,
) -> None:
    """Verify every item; exit 0 only if every item is verified."""
    if not token:
        raise fail("a judge's API token is needed: --token T or FIVECHAINS_TOKEN")
    items = load_items(source)
    if not items:
        raise fail("no items to verify")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=portal.rstrip("/"), headers=headers, timeout=120) as http:
        submitted = http.post("/v1/verifications", json={"case_id": case_id, "items": items})
        if submitted.status_code != 202:
            raise fail(f"{submitted.status_code}: {submitted.json().get('detail', submitted.text) if submitted.headers.get('content-type', '').endswith('json') else submitted.text}")
        job = submitted.json()["job_id"]
        deadline = time.monotonic() + timeout
        with progress_bar("verifying", len(items), enabled=not json_out) as update:
            while True:
                view = http.get(f"/v1/verifications/{job}").json()
                update(view["done"])
                if view["status"] != "running" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
    if view["status"] != "done":
        raise fail(f"the batch did not finish: {view.get('error', view['status'])}")
    result = {"counts": view["counts"], "items": [{k: v for k, v in i.items() if k != "bundle"} for i in view["items"]]}
    if report:
        write_report(report, case_id, result)
    if json_out:
        emit_json(result)
    else:
        console.print(" · ".join(f"{LABELS[k]}: {v}" for k, v in result["counts"].items()))
        if report:
            console.print(f"report: {report}")
    if result["counts"]["verified"] != len(items):
        raise typer.Exit(1)
