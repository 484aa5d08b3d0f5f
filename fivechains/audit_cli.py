"""`fivechains audit`: re-verify every chain from what it publishes, and each link into the judicial chain.

Supervision chain over its public HTTP API, judicial chain over gRPC (a consortium client
certificate). A first audit replays every block; with --state, later audits check only what
is new since the last clean one (--full replays everything again). A rollback or fork leaves
a self-contained proof of misbehaviour in the state folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import grpc
import httpx
import typer

from chain.errors import ChainError

from .audit import AuditRequest, run_audit
from .output import console, emit_json, fail, progress_bar


def audit(
    supervision: Annotated[str, typer.Option("--supervision", help="Supervision chain URL.")],
    judicial: Annotated[str, typer.Option("--judicial", help="Judicial chain HOST:PORT (gRPC, mutual TLS).")],
    certs: Annotated[Path, typer.Option("--certs", help="Consortium certificates: CA and this auditor's client certificate.")],
    cert_name: Annotated[str, typer.Option("--cert-name", help="Name of this auditor's client certificate (fivechains judicial certs --client NAME).")],
    judicial_vkey: Annotated[Optional[str], typer.Option("--judicial-vkey", help="The judicial chain's verifier key (kept in --state after the first run).")] = None,
    supervision_vkey: Annotated[Optional[str], typer.Option("--supervision-vkey", help="The supervision chain's key (default: as published, then pinned in --state).")] = None,
    state: Annotated[Optional[Path], typer.Option("--state", help="Folder keeping keys, checkpoints and positions from the last clean audit.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Replay every chain from the start even if --state holds a position.")] = False,
    risk: Annotated[Optional[str], typer.Option("--risk", help="Risk-control chain URL: audited too, with its anchors in the judicial chain.")] = None,
    credit: Annotated[Optional[str], typer.Option("--credit", help="Credit chain URL: audited too, with its anchors in the judicial chain.")] = None,
    service: Annotated[Optional[str], typer.Option("--service", help="Service chain URL: audited too, with its anchors in the judicial chain.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print {ok, findings, …} as JSON.")] = False,
) -> None:
    """Audit the chains end to end (supervision and judicial, and the risk, credit and service chains when given); exit 0 only if everything holds."""
    others = tuple((kind, url) for kind, url in (("risk", risk), ("credit", credit), ("service", service)) if url)
    request = AuditRequest(supervision, judicial, certs, cert_name, judicial_vkey, supervision_vkey, state, full, others)
    try:
        with progress_bar("auditing", None, enabled=not json_out) as update:
            report = run_audit(request, lambda kind, done, total: update(done, total))
    except (httpx.HTTPError, grpc.RpcError, ChainError, KeyError, ValueError, OSError) as exc:
        raise fail(f"could not audit: {exc.__class__.__name__}: {exc}") from None
    if json_out:
        emit_json(report)
    elif report["ok"]:
        sv, jc, lag = report["supervision"], report["judicial"], report["anchoring_lag_ms"]
        extra = "".join(f" · {report[kind]['chain']}: {report[kind]['blocks']} blocks, {report[kind]['entries']} entries" for kind, _ in others)
        console.print(f"[green]OK[/] ({report['mode']}, {report['seconds']} s) {sv['chain']}: {sv['blocks']} blocks, {sv['entries']} entries "
                      f"· {jc['chain']}: {jc['blocks']} blocks, {jc['entries']} entries{extra} · anchoring lag mean {lag['mean']} ms, "
                      f"max {lag['max']} ms, {lag['in_flight_blocks']} block(s) in flight")
    else:
        console.print(f"[bold red]FAILED[/]: {len(report['findings'])} finding(s)")
        for f in report["findings"]:
            where = ", ".join(part for part in (f"block {f['block']}" if f["block"] is not None else "",
                                                f"entry {f['entry']}" if f["entry"] is not None else "") if part)
            console.print(f"  • {f['chain']}{' (' + where + ')' if where else ''}: {f['problem']}")
    if not report["ok"]:
        raise typer.Exit(1)
