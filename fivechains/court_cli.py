"""`fivechains court verify`: a court checks a case's evidence against the judicial chain."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import httpx
import typer

from .output import console, emit_json, fail, progress_bar

court_app = typer.Typer(help="The court's tools: verify evidence by deposit code.", no_args_is_help=True)
from judicial_chain.portal.report import LABELS  # noqa: E402  (the same labels as the report)


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
        if report and view["status"] == "done":
            report.write_text(http.get(f"/v1/verifications/{job}/report.html").text, encoding="utf-8")
    if view["status"] != "done":
        raise fail(f"the batch did not finish: {view.get('error', view['status'])}")
    result = {"counts": view["counts"], "items": [{k: v for k, v in i.items() if k != "bundle"} for i in view["items"]]}
    if json_out:
        emit_json(result)
    else:
        console.print(" · ".join(f"{LABELS[k]}: {v}" for k, v in result["counts"].items()))
        if report:
            console.print(f"report: {report}")
    if result["counts"]["verified"] != len(items):
        raise typer.Exit(1)
