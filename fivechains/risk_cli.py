"""`fivechains risk …`: run the risk-control chain (风控链), and the regulator's and lenders' tools for its warnings.

The regulator reads warnings with the risk chain's token, officers take steps signed with their key, a
lender reads and answers its own warnings with its key (signed reads, signed steps), and anyone with the
supervision feed's credential recomputes a warning from the supervision data.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Annotated, Any, Optional

import httpx
import typer

from chain.errors import ChainError

from .chain_dirs import locate
from .config_cli import ConfigFile, settings_or_fail
from .output import console, emit_json, fail, progress_bar
from .token_options import TokenFile, resolve_token, token_option

risk_app = typer.Typer(help="The risk-control chain (风控链): early warnings, their closed loop, recomputation.", no_args_is_help=True)

JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Server = Annotated[str, typer.Option("--server", help="The risk chain's URL.")]
DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="The risk chain's directory or the `fivechains up` directory: "
                                                                   "its regulator token and officer key are read from there.")]
TOKEN_ENV = "FIVECHAINS_RISK_TOKEN"
Token = Annotated[Optional[str], token_option(TOKEN_ENV, "The risk chain's regulator token")]
DEFAULT_SERVER = "http://127.0.0.1:8800"
LEVELS = {"red": "红 red", "orange": "橙 orange", "limit": "限 hard limit"}


def _risk_dir(data_dir: Path | None) -> Path | None:
    if data_dir is None:
        return None
    found = locate(data_dir, "risk") or locate(data_dir, "risk", database=False)
    if found is None:
        raise fail(f"no risk chain in {data_dir} (expected risk.db or signer.key there or in {data_dir / 'risk'})")
    return found


def _regulator_client(ctx: typer.Context, server: str, token: str | None, token_file: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from risk_chain.client import RiskClient

    given = resolve_token(ctx, token, token_file, TOKEN_ENV)
    folder = _risk_dir(data_dir)
    if given is None and folder is not None:
        given = (folder / "regulator.token").read_text().strip()
    if given is None:
        raise fail("the regulator's token is needed: --token-file FILE, FIVECHAINS_RISK_TOKEN, or --data-dir of the risk chain")
    return RiskClient(server, token=given)


def _party_client(server: str, party: str, key: Path, kind: str):  # type: ignore[no-untyped-def]
    from chain.keys import load_private_key
    from risk_chain.client import RiskClient

    try:
        return RiskClient(server, party_id=party, key=load_private_key(key), kind=kind)
    except (ChainError, OSError, ValueError) as exc:
        raise fail(f"cannot read the key {key}: {exc}") from None


def _call(fn, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    from risk_chain.client import RiskError

    try:
        return fn(*args, **kwargs)
    except RiskError as exc:
        raise fail(f"the risk chain refused: {exc.status} {exc.detail}", 1) from None
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach the risk chain: {exc.__class__.__name__}: {exc}") from None


@risk_app.command("serve")
def serve(
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Database, keys and token live here (default: DATA_DIR/risk).")] = None,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (default: 8800).")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Database URL (default: SQLite in --data-dir).")] = None,
    supervision: Annotated[Optional[str], typer.Option("--supervision", help="The supervision chain's URL (its report feed).")] = None,
    supervision_token_file: Annotated[Optional[Path], typer.Option("--supervision-token-file", help="The supervision chain's regulator token (the feed's credential).")] = None,
    judicial: Annotated[Optional[str], typer.Option("--judicial", help="HOST:PORT of the judicial chain to anchor sealed blocks to.")] = None,
    certs: Annotated[Optional[Path], typer.Option("--certs", help="Consortium certificates (CA and this chain's client certificate).")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="The scorecard model file (TOML).")] = None,
    court: Annotated[Optional[str], typer.Option("--court", help="The court portal's URL: evidence judged tampered per lender (court_failures).")] = None,
    court_token_file: Annotated[Optional[Path], typer.Option("--court-token-file", help="The portal's outcomes token (JUDICIAL_DATA_DIR/outcomes.token).")] = None,
    credit: Annotated[Optional[str], typer.Option("--credit", help="The credit chain's URL: each lender's share of multi-head borrowers (multihead_share).")] = None,
    credit_token_file: Annotated[Optional[Path], typer.Option("--credit-token-file", help="The credit chain's regulator token (CREDIT_DATA_DIR/regulator.token).")] = None,
    suite: Annotated[Optional[str], typer.Option("--suite", help="A new chain's suite: ed25519 or sm2; an existing chain keeps its own.")] = None,
    config: ConfigFile = None,
) -> None:
    """Serve the risk chain (OpenAPI docs at /docs, the regulator's pages at /risk/). Flags override FIVECHAINS_* and --config."""
    import uvicorn

    from risk_chain.api import create_app

    settings = settings_or_fail(config, {"certs_dir": certs, "suite": suite, "risk": {"data_dir": data_dir, "host": host, "port": port,
                                                                                      "db_url": db, "model": model}})
    if judicial and not settings.certs_dir:
        raise fail("--judicial needs --certs DIR (mutual TLS)")
    if supervision and not supervision_token_file:
        raise fail("--supervision needs --supervision-token-file (the feed is the regulator's)")
    if court and not court_token_file:
        raise fail("--court needs --court-token-file (the portal's outcomes token)")
    if credit and not credit_token_file:
        raise fail("--credit needs --credit-token-file (the credit chain's regulator token)")
    chain = build_risk_chain(settings, supervision, supervision_token_file, judicial, court, court_token_file, credit, credit_token_file)
    rk = settings.risk
    console.print(f"risk chain [bold]{chain.config.chain_id}[/]  http://{rk.host}:{rk.port}  (API docs /docs, pages /risk/)")
    uvicorn.run(create_app(chain), host=rk.host, port=rk.port, log_level="warning", timeout_graceful_shutdown=30)


def build_risk_chain(settings: Any, supervision: str | None, supervision_token_file: Path | None, judicial: str | None,
                     court: str | None = None, court_token_file: Path | None = None, credit: str | None = None,
                     credit_token_file: Path | None = None) -> Any:
    """The risk chain of these settings (used by `risk serve` and `up`)."""
    from risk_chain.config import RiskConfig
    from risk_chain.indicators import RiskSettings
    from risk_chain.scorecard import DEFAULT_MODEL, ModelError
    from risk_chain.service import RiskChain

    rk = settings.risk
    folder = locate(settings.risk_dir(), "risk", database=rk.db_url is None) or settings.risk_dir()
    config = RiskConfig(folder, rk.db_url, rk.chain_id, supervision_url=supervision, supervision_token_file=supervision_token_file,
                        feed_interval_ms=rk.feed_interval_ms, seal_interval_ms=rk.seal_interval_ms, judicial_target=judicial,
                        certs_dir=settings.certs() if judicial else None, model_path=rk.model or DEFAULT_MODEL,
                        court_url=court, court_token_file=court_token_file, credit_url=credit, credit_token_file=credit_token_file,
                        settings=RiskSettings(lpr_bp=rk.lpr_bp, cap_multiple=rk.cap_multiple), reopen_after_days=rk.reopen_after_days,
                        hash_suite=settings.hash_suite(), key_type=settings.key_type())
    try:
        return RiskChain(config)
    except ModelError as exc:
        raise fail(f"the model file cannot be used: {exc}") from None


@risk_app.command("warnings")
def warnings(ctx: typer.Context, server: Server = DEFAULT_SERVER, state: Annotated[list[str], typer.Option("--state", help="Only these states (repeat).")] = [],  # noqa: B006
             token: Token = None, token_file: TokenFile = None, data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """The warning queue (regulator): level, state, deadline, lender."""
    with _regulator_client(ctx, server, token, token_file, data_dir) as client:
        rows = _call(client.warnings, list(state) or None)
    _print_warnings(rows, json_out)


def _print_warnings(rows: list[dict[str, Any]], json_out: bool) -> None:
    if json_out:
        emit_json({"warnings": rows})
        return
    import datetime as dt

    from rich.table import Table

    table = Table("warning 预警", "lender 机构", "level 等级", "index 指数", "state 状态", "deadline 期限", title="warnings 风险预警")
    for w in rows:
        due = dt.datetime.fromtimestamp(w["deadline_ms"] / 1000).strftime("%Y-%m-%d %H:%M") if w["deadline_ms"] else "—"
        table.add_row(w["id"], f"{w['lender_id']} {w['lender_name']}", LEVELS.get(w["level"], w["level"]), str(w["risk_index"]),
                      w["state"], due + (" [red]missed[/]" if w["deadline_missed"] else ""))
    console.print(table)


def _print_explanation(view: dict[str, Any]) -> None:
    from rich.table import Table

    e = view["explanation"]
    console.print(f"[bold]{view['id']}[/] {view['lender_id']} ({view['lender_name']}) · {view['state']} · day {e['day']} · "
                  f"index [bold]{e['risk_index']}[/] ({e['band']}) · model {e['model']['version']} sha256 {e['model']['sha256'][:16]}…")
    console.print("reasons: " + "; ".join(e["reasons"]))
    sv = e["supervision"]
    console.print(f"computed from the supervision reports below index {sv['fed_up_to']} (sealed size {sv['sealed_size']}); "
                  f"checkpoint: {(sv['checkpoint'] or '').splitlines()[1:3]}")
    table = Table("indicator 指标", "value 数值", "points 分值", "hard limit 硬限", "entries 依据条目", title="explanation 解释")
    for line in e["lines"]:
        entries = line["entries"]
        shown = ", ".join(map(str, entries[:6])) + (f" … ({len(entries)})" if len(entries) > 6 else "")
        value = "—" if line["value"] is None else f"{line['value']:.6g}"
        limit = "—" if line["hard_limit"] is None else (f"{line['hard_limit']:g}" + (" [red]crossed[/]" if line["limit_crossed"] else ""))
        table.add_row(line["indicator"], value, str(line["points"]), limit, shown or "—")
    console.print(table)
    for s in view["steps"]:
        code = s["deposit_code"] or "(not yet anchored)"
        console.print(f"  step {s['seq']} {s['step']:<9} by {s['actor']:<16} entry {s['index']:<6} code {code}")


@risk_app.command("explain")
def explain(ctx: typer.Context, warning_id: Annotated[str, typer.Argument(help="The warning's id (W-…).")], server: Server = DEFAULT_SERVER,
            token: Token = None, token_file: TokenFile = None, data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Why a warning was raised: the model, the data position, every indicator's value and points, and the entries behind it."""
    with _regulator_client(ctx, server, token, token_file, data_dir) as client:
        view = _call(client.warning, warning_id)
    if json_out:
        emit_json(view)
    else:
        _print_explanation(view)


@risk_app.command("recompute")
def recompute(ctx: typer.Context, warning_id: Annotated[str, typer.Argument(help="The warning's id (W-…).")],
              supervision: Annotated[str, typer.Option("--supervision", help="The supervision chain's URL (its report feed).")] = "http://127.0.0.1:8400",
              supervision_token_file: Annotated[Optional[Path], typer.Option("--supervision-token-file", help="The supervision chain's regulator token "
                                                                             "(default: from --data-dir)")] = None,
              server: Server = DEFAULT_SERVER, token: Token = None, token_file: TokenFile = None, data_dir: DataDir = None,
              json_out: JsonOut = False) -> None:
    """Recompute a warning from the supervision data and report bit-for-bit agreement or the first difference (exit 1)."""
    from risk_chain.feed import FeedClient
    from risk_chain.recompute import recompute_explanation

    with _regulator_client(ctx, server, token, token_file, data_dir) as client:
        view = _call(client.warning, warning_id)
        model_text = _call(client.model, view["explanation"]["model"]["sha256"])
    if supervision_token_file is None and data_dir is not None:
        candidate = locate(data_dir, "supervision") or locate(data_dir, "supervision", database=False)
        supervision_token_file = candidate / "regulator.token" if candidate else None
    if supervision_token_file is None:
        raise fail("the supervision feed's credential is needed: --supervision-token-file FILE (or --data-dir of the `up` directory)")
    explanation = view["explanation"]
    up_to = explanation["supervision"]["fed_up_to"]
    try:
        with FeedClient(supervision, supervision_token_file.read_text().strip()) as feed, \
                progress_bar("reading the supervision reports", up_to, enabled=not json_out) as update:
            pages = []
            for page in feed.pages(0, up_to=up_to):
                pages.append(page.table)
                update(page.next)
        result = recompute_explanation(explanation, model_text, pages)
    except httpx.HTTPError as exc:
        raise fail(f"cannot read the supervision feed: {exc.__class__.__name__}: {exc}") from None
    result = {"warning": warning_id, **result}
    if json_out:
        emit_json(result)
    elif result["agree"]:
        console.print(f"[green]agrees[/] bit for bit: {result['compared']} figures of {warning_id} recomputed from the supervision "
                      f"reports below index {up_to} with model {explanation['model']['sha256'][:16]}…")
    else:
        console.print(f"[red]differs[/]: {result['first_difference']}")
    if not result["agree"]:
        raise typer.Exit(1)


def _officer(data_dir: Path | None, officer: str | None, key: Path | None) -> tuple[str, Path]:
    from risk_chain.config import DEFAULT_OFFICER, OFFICER_KEY_FILE

    folder = _risk_dir(data_dir)
    key = key or (folder / OFFICER_KEY_FILE if folder else None)
    if key is None:
        raise fail("the officer's key is needed: --key FILE (or --data-dir of the risk chain for the first officer's key)")
    return officer or DEFAULT_OFFICER, key


Officer = Annotated[Optional[str], typer.Option("--officer", help="The officer's id (default: REG-001, made with the chain).")]
OfficerKey = Annotated[Optional[Path], typer.Option("--key", help="The officer's private key (default: DATA_DIR/risk/officer.key).")]
Note = Annotated[Optional[str], typer.Option("--note", help="A note recorded with the step.")]


def _officer_step(warning_id: str, step: str, body: dict[str, Any], server: str, data_dir: Path | None, officer: str | None,
                  key: Path | None, json_out: bool) -> None:
    officer_id, key_file = _officer(data_dir, officer, key)
    with _party_client(server, officer_id, key_file, "officer") as client:
        view = _call(client.step, warning_id, step, {k: v for k, v in body.items() if v is not None})
    if json_out:
        emit_json(view)
    else:
        console.print(f"{warning_id}: {step} recorded (signed by {officer_id}); the warning is now [bold]{view['state']}[/]")


@risk_app.command("assign")
def assign(warning_id: str, to: Annotated[str, typer.Option("--to", help="Who handles it (an officer's id or name).")],
           note: Note = None, server: Server = DEFAULT_SERVER, officer: Officer = None, key: OfficerKey = None, data_dir: DataDir = None,
           json_out: JsonOut = False) -> None:
    """Assign a warning (the lender is then asked to answer by its deadline)."""
    _officer_step(warning_id, "assign", {"assignee": to, "note": note}, server, data_dir, officer, key, json_out)


@risk_app.command("review")
def review(warning_id: str, finding: Annotated[str, typer.Option("--finding", help="accepted or rejected (the lender's answer).")],
           note: Note = None, server: Server = DEFAULT_SERVER, officer: Officer = None, key: OfficerKey = None, data_dir: DataDir = None,
           json_out: JsonOut = False) -> None:
    """Review the lender's answer."""
    _officer_step(warning_id, "review", {"finding": finding, "note": note}, server, data_dir, officer, key, json_out)


@risk_app.command("close")
def close(warning_id: str, note: Annotated[str, typer.Option("--note", help="Why it is closed.")], server: Server = DEFAULT_SERVER,
          officer: Officer = None, key: OfficerKey = None, data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Close a reviewed warning (it reopens by itself if the risk persists)."""
    _officer_step(warning_id, "close", {"note": note}, server, data_dir, officer, key, json_out)


@risk_app.command("escalate")
def escalate(warning_id: str, action: Annotated[str, typer.Option("--action", help="on-site-inspection or court-referral.")],
             note: Note = None, server: Server = DEFAULT_SERVER, officer: Officer = None, key: OfficerKey = None, data_dir: DataDir = None,
             json_out: JsonOut = False) -> None:
    """Escalate a warning: an on-site inspection or a referral to court."""
    _officer_step(warning_id, "escalate", {"action": action, "note": note}, server, data_dir, officer, key, json_out)


@risk_app.command("complaint")
def complaint(ctx: typer.Context, lender: Annotated[str, typer.Argument(help="The lender complained about.")],
              file: Annotated[Path, typer.Argument(help="The complaint (kept by the regulator; only its SHA-256 is recorded).")],
              server: Server = DEFAULT_SERVER, token: Token = None, token_file: TokenFile = None, data_dir: DataDir = None,
              json_out: JsonOut = False) -> None:
    """Record a consumer complaint about a lender: an entry on the risk chain and a count in the lender's figures."""
    try:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    with _regulator_client(ctx, server, token, token_file, data_dir) as client:
        answer = _call(client.complaint, lender, digest)
    if json_out:
        emit_json(answer)
    else:
        console.print(f"complaint about {lender} recorded as risk entry {answer['index']} (day {answer['day']}, sha256 {digest[:16]}…)")


@risk_app.command("document")
def document(ctx: typer.Context, warning_id: str, seq: Annotated[int, typer.Argument(help="The step's number (0 = the opening).")],
             out: Annotated[Path, typer.Option("--out", help="Write the signed step document here (for a court: verify it by its code).")],
             server: Server = DEFAULT_SERVER, token: Token = None, token_file: TokenFile = None, data_dir: DataDir = None) -> None:
    """Save a step's signed document, byte for byte as its ledger entry commits to."""
    with _regulator_client(ctx, server, token, token_file, data_dir) as client:
        data = _call(client.document, warning_id, seq)
    out.write_bytes(data)
    digest = hashlib.sha256(data.rstrip(b"\n")).hexdigest()
    console.print(f"wrote {out} (the document's digest {digest[:16]}…: what its deposit code names)")


# --- the lender's side ---------------------------------------------------------------------------

Lender = Annotated[str, typer.Option("--lender", help="Your lender id.")]
LenderKey = Annotated[Path, typer.Option("--key", help="Your private key (the one registered on the supervision chain).")]


@risk_app.command("mine")
def mine(lender: Lender, key: LenderKey, server: Server = DEFAULT_SERVER, json_out: JsonOut = False) -> None:
    """A lender's own warnings (a signed read: no other lender's warning is ever shown)."""
    with _party_client(server, lender, key, "lender") as client:
        rows = _call(client.warnings)
    _print_warnings(rows, json_out)


@risk_app.command("show")
def show(warning_id: str, lender: Lender, key: LenderKey, server: Server = DEFAULT_SERVER, json_out: JsonOut = False) -> None:
    """A lender's view of one of its warnings: the explanation and every step."""
    with _party_client(server, lender, key, "lender") as client:
        view = _call(client.warning, warning_id)
    if json_out:
        emit_json(view)
    else:
        _print_explanation(view)


@risk_app.command("answer")
def answer(warning_id: str, lender: Lender, key: LenderKey, text: Annotated[str, typer.Option("--text", help="Your answer (处置反馈).")],
           attach: Annotated[list[Path], typer.Option("--attach", help="A file to cite (only its name and SHA-256 are sent; repeat).")] = [],  # noqa: B006
           server: Server = DEFAULT_SERVER, json_out: JsonOut = False) -> None:
    """Answer a warning assigned to you, signed with your key (attachments by digest)."""
    try:
        attachments = [{"name": p.name, "digest": hashlib.sha256(p.read_bytes()).hexdigest()} for p in attach]
    except OSError as exc:
        raise fail(f"cannot read an attachment: {exc}") from None
    with _party_client(server, lender, key, "lender") as client:
        view = _call(client.step, warning_id, "answer", {"text": text, "attachments": attachments})
    if json_out:
        emit_json(view)
    else:
        console.print(f"{warning_id}: your signed answer is recorded; the warning is now [bold]{view['state']}[/]")


@risk_app.command("proofs")
def proofs(warning_id: str, lender: Lender, key: LenderKey, server: Server = DEFAULT_SERVER,
           supervision: Annotated[str, typer.Option("--supervision", help="The supervision chain's URL (public proofs).")] = "http://127.0.0.1:8400",
           json_out: JsonOut = False) -> None:
    """Check every supervision entry behind your warning: yours, and included in the supervision chain's signed checkpoint."""
    from chain.checkpoint import open_checkpoint
    from chain.hashing import suite_by_name
    from chain.merkle import leaf_hash, verify_inclusion
    from chain.note import parse_vkey
    from evidence.supervision_entry import parse_supervision_entry

    with _party_client(server, lender, key, "lender") as client:
        view = _call(client.warning, warning_id)
    e = view["explanation"]
    indexes = sorted({i for line in e["lines"] for i in line["entries"]})
    problems: list[str] = []
    with httpx.Client(base_url=supervision.rstrip("/"), timeout=30) as http:
        info = http.get("/v1/chain").raise_for_status().json()
        suite = suite_by_name(info["hash_suite"])
        cp = open_checkpoint(e["supervision"]["checkpoint"], parse_vkey(info["vkey"])).checkpoint
        with progress_bar("checking inclusion proofs", len(indexes), enabled=not json_out) as update:
            for n in range(0, len(indexes), 1000):  # a thousand entries and their proofs per request
                chunk = indexes[n:n + 1000]
                entries: dict[int, str] = {}
                start = chunk[0]
                while start <= chunk[-1]:
                    rows = http.get("/v1/entries", params={"start": start, "end": min(chunk[-1] + 1, start + 1000)}).raise_for_status().json()
                    entries.update((e["index"], e["data"]) for e in rows["entries"])
                    start = min(chunk[-1] + 1, start + 1000)
                answer = http.get("/v1/proofs/inclusions", params={"indexes": ",".join(map(str, chunk)), "tree_size": cp.size})
                for proof in answer.raise_for_status().json()["proofs"]:
                    index, entry = proof["index"], entries.get(proof["index"], "")
                    if not entry or parse_supervision_entry(entry.encode()).lender_id != lender:
                        problems.append(f"entry {index} is not yours")
                    elif not verify_inclusion(leaf_hash(entry.encode(), suite), index, cp.size, [base64.b64decode(h) for h in proof["hashes"]],
                                              cp.root, suite):
                        problems.append(f"entry {index}: the inclusion proof does not verify")
                update(n + len(chunk))
    result = {"warning": warning_id, "entries": len(indexes), "checkpoint_size": cp.size, "ok": not problems, "problems": problems}
    if json_out:
        emit_json(result)
    elif not problems:
        console.print(f"[green]✓[/] all {len(indexes)} entries behind {warning_id} are yours and included in the supervision checkpoint "
                      f"of size {cp.size} (signature verified)")
    else:
        console.print("[red]" + "\n".join(problems) + "[/]")
    if problems:
        raise typer.Exit(1)


@risk_app.command("officer-add")
def officer_add(ctx: typer.Context, officer_id: str, name: Annotated[str, typer.Option("--name")],
                pubkey: Annotated[Path, typer.Option("--pubkey", help="The officer's public key file (fivechains keys generate).")],
                server: Server = DEFAULT_SERVER, token: Token = None, token_file: TokenFile = None, data_dir: DataDir = None) -> None:
    """Register another regulator officer's key."""
    from chain.keys import load_public_key, public_key_bytes

    raw = public_key_bytes(load_public_key(pubkey))
    with _regulator_client(ctx, server, token, token_file, data_dir) as client:
        answer = client.http.post("/v1/admin/officers", json={"id": officer_id, "name": name, "public_key": base64.b64encode(raw).decode()},
                                  headers={"Authorization": f"Bearer {client.token}"})
    if answer.status_code != 201:
        raise fail(f"refused: {answer.status_code} {answer.json().get('detail')}", 1)
    console.print(f"officer {officer_id} registered")


@risk_app.command("page-link")
def page_link(lender: Lender, key: LenderKey, server: Server = DEFAULT_SERVER, json_out: JsonOut = False) -> None:
    """Print a sign-in link to your warnings' web pages (signed with your key; it works once, within the replay window)."""
    from risk_chain.pages import sign_in_link

    with _party_client(server, lender, key, "lender") as client:
        chain_id = _call(lambda: client.chain_id)
        url = sign_in_link(server, chain_id, lender, client.key)
    if json_out:
        emit_json({"url": url})
    else:
        console.print("open this link within 5 minutes; it works once · 请在 5 分钟内打开，仅可使用一次:")
        console.print(url, soft_wrap=True, markup=False, highlight=False)  # one line, as it must be pasted


__all__ = ["risk_app", "build_risk_chain"]
