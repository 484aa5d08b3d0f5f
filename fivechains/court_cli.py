"""`fivechains court verify`: a court checks a case's evidence against the judicial chain."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import httpx
import typer

from .output import console, emit_json, fail, progress_bar
from .token_options import TokenFile, resolve_token, token_option

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


TOKEN_ENV = "FIVECHAINS_TOKEN"
PENDING = ("queued", "running")  # a batch's states before it is done (or failed)


def bundle_name(position: int, item: dict[str, Any], width: int) -> str:
    """A bundle's file name a judge can match to the item: its position in the case, deposit code and evidence file."""
    parts = [f"{position:0{width}d}", item.get("code") or "no-code"]
    if item.get("path"):
        parts.append(Path(item["path"]).name + (f"-line{item['line']}" if item.get("line") else ""))
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(parts))[:200] + ".tlog-proof"


def _empty_or_new(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise fail(f"{directory} is not an empty directory: give a new one for the bundles (no stale bundle is mixed in)")


def save_bundles(http: httpx.Client, job: str, items: list[dict[str, Any]], directory: Path) -> int:
    """Each verified item's offline proof bundle into ``directory``; the file name is added to the item."""
    directory.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(items) - 1)))
    saved = 0
    for position, item in enumerate(items):
        if item.get("verdict") != "verified":
            continue
        answer = http.get(f"/v1/verifications/{job}/items/{position}/bundle")
        if answer.status_code != 200:
            raise fail(f"the portal gave no bundle for item {position}: {answer.status_code}")
        path = directory / bundle_name(position, item, width)
        path.write_text(answer.text, encoding="utf-8")
        item["bundle_file"] = str(path)
        saved += 1
    return saved


def _verify_on(portal: str, token: str, case_id: str, items: list[dict[str, Any]], report: Path | None, bundles: Path | None,
               timeout: float, json_out: bool) -> tuple[dict[str, Any], int]:
    """Submit the batch, wait for it, fetch the report and the bundles: (the verdicts, bundles saved)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=portal.rstrip("/"), headers=headers, timeout=120) as http:
        submitted = http.post("/v1/verifications", json={"case_id": case_id, "items": items})
        if submitted.status_code != 202:
            raise fail(f"{submitted.status_code}: {submitted.json().get('detail', submitted.text) if submitted.headers.get('content-type', '').endswith('json') else submitted.text}")
        job = submitted.json()["job_id"]
        deadline = time.monotonic() + timeout
        with progress_bar("verifying", len(items), enabled=not json_out) as update:
            while True:
                view = http.get(f"/v1/verifications/{job}", params={"limit": 1}).json()
                update(view["done"])
                if view["status"] not in PENDING or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        if view["status"] == "done":
            view = http.get(f"/v1/verifications/{job}").json()  # every verdict, once
        if report and view["status"] == "done":
            report.write_text(http.get(f"/v1/verifications/{job}/report.html").text, encoding="utf-8")
        if view["status"] != "done":
            raise fail(f"the batch did not finish: {view.get('error', view['status'])}")
        result = {"counts": view["counts"], "items": [{k: v for k, v in i.items() if k != "bundle"} for i in view["items"]]}
        saved = save_bundles(http, job, result["items"], bundles) if bundles is not None else 0
    return result, saved


@court_app.command("verify")
def verify(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="receipts.json from the lender (records beside it), a directory holding it, or a JSON list of {code, digest}.")],
    portal: Annotated[str, typer.Option("--portal", help="Court portal URL.")],
    token: Annotated[Optional[str], token_option(TOKEN_ENV, "A judge's API token")] = None,
    token_file: TokenFile = None,
    case_id: Annotated[str, typer.Option("--case", help="Case number, for the log and the report.")] = "unspecified",
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a printable HTML report here.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print {counts, items} as JSON.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the batch.")] = 600,
    bundles: Annotated[Optional[Path], typer.Option("--bundles", help="Save each verified item's offline proof bundle (.tlog-proof) in this new directory, "
                                                    "named POSITION_CODE_FILE; check one with `fivechains verify-bundle`.")] = None,
) -> None:
    """Verify every item; exit 0 only if every item is verified."""
    token = resolve_token(ctx, token, token_file, TOKEN_ENV)
    if not token:
        raise fail(f"a judge's API token is needed: --token-file PATH or {TOKEN_ENV}")
    if bundles is not None:
        _empty_or_new(bundles)
    items = load_items(source)
    if not items:
        raise fail("no items to verify")
    try:
        result, saved = _verify_on(portal, token, case_id, items, report, bundles, timeout, json_out)
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach {portal}: {exc.__class__.__name__}") from None
    if json_out:
        emit_json(result)
    else:
        console.print(" · ".join(f"{LABELS[k]}: {v}" for k, v in result["counts"].items()))
        if report:
            console.print(f"report: {report}")
        if bundles is not None:
            console.print(f"{saved} proof bundle(s) in {bundles} (check one: fivechains verify-bundle FILE --pubkey VKEY)")
    if result["counts"]["verified"] != len(items):
        raise typer.Exit(1)
