"""`fivechains supervision …`, `fivechains regulator …` and `fivechains lender …`."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import httpx
import typer

from chain.encoding import b64encode
from chain.errors import ChainError
from chain.keys import load_private_key, load_public_key, public_key_bytes
from evidence.borrower_ids import BorrowerId, BorrowerIdError, parse_borrower_id
from evidence.loan_report_csv import parse_reports_csv
from evidence.loan_reports import BORROWER_KINDS, ReportError, report_object
from supervision_chain.client import DepositError, DepositItem, LenderClient
from supervision_chain.errors import SupervisionError
from supervision_chain.records import MAX_SAFE_INT, RECORD_TYPES, canonical_json, digest_bytes, item_report, new_salt, valid_id
from supervision_chain.registry import add_lender, list_lenders, set_enabled
from supervision_chain.service import DEFAULT_CHAIN_ID, TOKEN_FILE, SupervisionConfig, open_supervision_store

from .chain_dirs import chain_dir_or_fail, locate
from .config_cli import ConfigFile, settings_or_fail
from .output import console, emit_json, fail, progress_bar
from .token_options import TokenFile, resolve_token, token_option

supervision_app = typer.Typer(help="Run the supervision chain (监管链).", no_args_is_help=True)
regulator_app = typer.Typer(help="The regulator's tools: lenders and reporting.", no_args_is_help=True)
lender_registry_app = typer.Typer(help="Register, list and disable lenders.", no_args_is_help=True)
regulator_app.add_typer(lender_registry_app, name="lender")
lender_app = typer.Typer(help="A lender's tools: deposit records, check receipts.", no_args_is_help=True)

JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Act directly on this supervision chain (its directory, or the `fivechains up` directory holding it).")]
Server = Annotated[Optional[str], typer.Option("--server", help="Or act through this running server (needs the regulator token).")]
TOKEN_ENV = "FIVECHAINS_REGULATOR_TOKEN"
Token = Annotated[Optional[str], token_option(TOKEN_ENV, "Regulator token for --server")]
PSEUDONYMISED = ("contract", "consent")  # the record types whose report names the borrower
_PSEUDONYM = re.compile(r"[0-9a-f]{64}")


@supervision_app.command("serve")
def serve(
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Database, signing key and regulator token live here (default: DATA_DIR/supervision).")] = None,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (default: 8400).")] = None,
    chain_id: Annotated[Optional[str], typer.Option("--chain-id", help=f"The chain's checkpoint origin (default: {DEFAULT_CHAIN_ID}).")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Database URL (default: SQLite in --data-dir).")] = None,
    seal_entries: Annotated[Optional[int], typer.Option(help="Seal every N entries … (default: 10000)")] = None,
    seal_interval_ms: Annotated[Optional[int], typer.Option(help="… or every T milliseconds, whichever first (default: 500).")] = None,
    judicial: Annotated[Optional[str], typer.Option("--judicial", help="HOST:PORT of the judicial chain to anchor sealed blocks to.")] = None,
    certs: Annotated[Optional[Path], typer.Option("--certs", help="Consortium certificates (CA and this chain's client certificate).")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, max=64,
                                                   help="API processes sharing the port (more than 1 needs a PostgreSQL --db; one of them, elected, seals).")] = None,
    suite: Annotated[Optional[str], typer.Option("--suite", help="A new chain's suite: ed25519 (Ed25519 + SHA-256, default) or sm2 (SM2 + SM3); an existing chain keeps its own.")] = None,
    config: ConfigFile = None,
) -> None:
    """Serve the deposit API (OpenAPI docs at /docs). Flags override FIVECHAINS_* variables and the --config file."""
    import uvicorn

    from supervision_chain.api import create_app
    from supervision_chain.service import SupervisionChain

    settings = settings_or_fail(config, {"certs_dir": certs, "suite": suite, "supervision": {
        "data_dir": data_dir, "host": host, "port": port, "chain_id": chain_id, "db_url": db, "seal_entries": seal_entries,
        "seal_interval_ms": seal_interval_ms, "judicial": judicial, "workers": workers}})
    sv = settings.supervision
    if sv.judicial and not settings.certs_dir:
        raise fail("--judicial needs --certs DIR (mutual TLS)")
    # an existing chain under the directory given (e.g. the `fivechains up` directory) is served, not a new one beside it
    data_dir = locate(settings.supervision_dir(), "supervision", database=sv.db_url is None) or settings.supervision_dir()
    chain_config = SupervisionConfig(data_dir, sv.db_url, sv.chain_id, sv.seal_entries, sv.seal_interval_ms,
                                     late_after_ms=sv.late_after_ms, judicial_target=sv.judicial, certs_dir=settings.certs_dir,
                                     hash_suite=settings.hash_suite(), key_type=settings.key_type())
    if sv.workers > 1:
        _serve_workers(chain_config, sv.host, sv.port, sv.workers)
        return
    try:
        chain = SupervisionChain(chain_config)
    except ChainError as exc:
        raise fail(str(exc)) from None
    _serving(chain_config, sv.host, sv.port, chain.vkey)
    uvicorn.run(create_app(chain), host=sv.host, port=sv.port, log_level="warning", timeout_graceful_shutdown=30)


def _serving(config: SupervisionConfig, host: str, port: int, vkey: str, workers: int = 1) -> None:
    processes = f"  ({workers} API processes, one elected sealer)" if workers > 1 else ""
    console.print(f"supervision chain [bold]{config.chain_id}[/] on http://{host}:{port}  (API docs: /docs){processes}")
    console.print(f"verifier key: {vkey}")
    console.print(f"regulator token: in {config.data_dir / 'regulator.token'} (mode 0600)")


def _serve_workers(config: SupervisionConfig, host: str, port: int, workers: int) -> None:
    """N API processes behind one port (uvicorn's process manager), sharing a PostgreSQL database."""
    import uvicorn
    from sqlalchemy.engine import make_url

    from chain.hashing import suite_by_name
    from chain.ledger import Ledger
    from chain.note import format_vkey
    from supervision_chain.service import prepare_data_dir
    from supervision_chain.workers import ENV, config_to_env

    if not config.db_url or make_url(config.db_url).get_backend_name() != "postgresql":
        raise fail("--workers > 1 needs --db postgresql+psycopg://…: an SQLite file takes one writing process")
    try:  # key, token, tables and the ledger's metadata once, here, before the workers start and share them
        signer, _ = prepare_data_dir(config)
        store = open_supervision_store(config)
        try:
            Ledger.open_or_create(store, config.chain_id, signer, suite_by_name(config.hash_suite))
        finally:
            store.close()
    except ChainError as exc:
        raise fail(str(exc)) from None
    os.environ[ENV] = config_to_env(config)
    _serving(config, host, port, format_vkey(signer.verifier()), workers)
    uvicorn.run("supervision_chain.workers:app_from_environment", factory=True, workers=workers, host=host, port=port,
                log_level="warning", timeout_graceful_shutdown=30)


def _regulator_http(server: str, token: str | None) -> httpx.Client:
    if not token:
        raise fail(f"--server needs the regulator token: --token-file PATH or {TOKEN_ENV}")
    return httpx.Client(base_url=server.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:
            problem = {"detail": response.text}
        raise fail(f"{response.status_code}: {problem.get('detail', problem)}")
    return response.json()


def _registry_call(ctx: typer.Context, data_dir: Path | None, server: str | None, token: str | None, token_file: Path | None,
                   local, remote) -> Any:
    if (data_dir is None) == (server is None):
        raise fail("give either --data-dir DIR or --server URL")
    token = resolve_token(ctx, token, token_file, TOKEN_ENV) if server is not None else None
    try:
        if data_dir is not None:
            chain = chain_dir_or_fail(data_dir, "supervision")  # never a new, empty database beside the real one
            store = open_supervision_store(SupervisionConfig(chain))
            try:
                return local(store.engine)
            finally:
                store.close()
        with _regulator_http(server, token) as http:  # type: ignore[arg-type]
            return remote(http)
    except SupervisionError as exc:
        raise fail(exc.detail) from None
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach {server}: {exc.__class__.__name__}") from None


@lender_registry_app.command("add")
def lender_add(
    lender_id: Annotated[str, typer.Argument(help="Lender id, e.g. L0001.")],
    name: Annotated[str, typer.Option("--name")],
    licence: Annotated[str, typer.Option("--licence", help="Licence number.")],
    pubkey: Annotated[Path, typer.Option("--pubkey", help="The lender's public key file (FILE.pub from keys generate), Ed25519 or SM2.")],
    ctx: typer.Context, data_dir: DataDir = None, server: Server = None, token: Token = None, token_file: TokenFile = None,
    json_out: JsonOut = False,
) -> None:
    """Register a lender and its public key."""
    try:
        raw = public_key_bytes(load_public_key(pubkey))
    except ChainError as exc:
        raise fail(str(exc)) from None
    body = {"id": lender_id, "name": name, "licence": licence, "public_key": b64encode(raw)}
    result = _registry_call(ctx, data_dir, server, token, token_file, lambda e: add_lender(e, lender_id, name, licence, raw),
                            lambda h: _answer(h.post("/v1/admin/lenders", json=body)))
    emit_json(result) if json_out else console.print(f"registered lender [bold]{lender_id}[/] ({name}, licence {licence}, {result['key_type']} key)")


@lender_registry_app.command("list")
def lender_list(ctx: typer.Context, data_dir: DataDir = None, server: Server = None, token: Token = None, token_file: TokenFile = None,
                json_out: JsonOut = False) -> None:
    """List registered lenders."""
    lenders = _registry_call(ctx, data_dir, server, token, token_file, list_lenders, lambda h: _answer(h.get("/v1/admin/lenders"))["lenders"])
    if json_out:
        emit_json(lenders)
        return
    from rich.table import Table

    table = Table("id", "name", "licence", "enabled")
    for lender in lenders:
        table.add_row(lender["id"], lender["name"], lender["licence"], "yes" if lender["enabled"] else "[red]no[/]")
    console.print(table)


@lender_registry_app.command("disable")
def lender_disable(ctx: typer.Context, lender_id: str, data_dir: DataDir = None, server: Server = None, token: Token = None,
                   token_file: TokenFile = None, json_out: JsonOut = False) -> None:
    """Disable a lender: its further deposits are refused."""
    result = _registry_call(ctx, data_dir, server, token, token_file, lambda e: set_enabled(e, lender_id, False),
                            lambda h: _answer(h.post(f"/v1/admin/lenders/{lender_id}/disable")))
    emit_json(result) if json_out else console.print(f"lender [bold]{lender_id}[/] disabled")


@regulator_app.command("token")
def show_token(data_dir: Annotated[Path, typer.Option("--data-dir", help="The supervision chain's directory, or the `fivechains up` directory.")]) -> None:
    """Print the regulator token of a supervision chain (better: pass its file with --token-file)."""
    token_file = chain_dir_or_fail(data_dir, "supervision", database=False) / TOKEN_FILE
    if not token_file.is_file():
        raise fail(f"no regulator token in {token_file.parent}: the chain makes {TOKEN_FILE} when it first starts")
    typer.echo(token_file.read_text(encoding="utf-8").strip())


# --- lenders -------------------------------------------------------------------------------------

def _loan_id(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._:/-]", "-", text).strip("-")[:64] or "record"
    return cleaned if valid_id(cleaned) else "record-" + cleaned[:50]


def _jsonl_record(f: Path, n: int, record: Any, record_type: str, salt: bool, report: Any = None) -> dict[str, Any]:
    """One .jsonl line as an item: its digest, and the record type, loan id, event time and report the line carries
    (``report``: the line's report with its borrower pseudonymised, if it was; the digest is of the line as written)."""
    where = f"{f} line {n}"
    fields = record if isinstance(record, dict) else {}
    kind = _line_kind(fields, record_type)
    report = fields.get("report") if report is None else report
    if report is not None and "record_type" in fields and fields["record_type"] not in RECORD_TYPES:
        raise fail(f"{where}: record_type: must be one of {', '.join(RECORD_TYPES)}")
    try:
        item_report(kind, report)  # the chain's rules, checked here first: the error names the line
    except ReportError as exc:
        raise fail(f"{where}: {exc}{_borrower_hint(exc)}") from None
    event = fields.get("event_time_ms")
    if event is None or event == "":
        event = int(f.stat().st_mtime * 1000)
    elif type(event) is str and event.isdigit():
        event = int(event)
    if type(event) is not int or not 0 <= event <= MAX_SAFE_INT:
        raise fail(f"{where}: event_time_ms: must be an integer in 0..2^53-1 (ms since the epoch)")
    s = new_salt() if salt else None
    out = {"path": str(f), "line": n, "salt": s, "digest": digest_bytes(canonical_json(record), s), "record_type": kind,
           "loan_id": _loan_id(str(fields.get("loan_id") or f"{f.stem}-{n}")), "event_time_ms": event}
    if report is not None:
        out["report"] = report
    return out


def _borrower_hint(exc: ReportError) -> str:
    """For a borrower that is not a pseudonym: how to deposit it by ID number."""
    if exc.path.endswith(".borrower") and "hex" in exc.rule:
        return " (an ID number or credit code? deposit with --bureau URL, the credit chain: it becomes its pseudonym)"
    return ""


def _csv_records(f: Path, salt: bool, text: str | None = None, written: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """A reports CSV (evidence/loan_report_csv.py): one item per row, the digest of the row's canonical JSON record
    ``{"event_time_ms","loan_id","record_type","report"}`` (the .jsonl line it stands for). ``text``: the file with
    its identifiers replaced by pseudonyms; ``written``: the borrower cell as the file has it, by line (the digest's)."""
    try:
        rows = parse_reports_csv(text if text is not None else f.read_text(encoding="utf-8"))
    except ReportError as exc:
        line, dot, field = exc.path.partition(".")  # "line N.report.amount" (a row) or "header.column"
        where = f"{f} {line}" if dot and line.startswith("line ") else str(f)
        raise fail(f"{where}: {field if where != str(f) else exc.path}: {exc.rule}{_borrower_hint(exc)}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise fail(f"{f}: not a UTF-8 CSV file ({exc})") from None
    out = []
    for row in rows:
        if not valid_id(row.loan_id):
            raise fail(f"{f} line {row.line}: loan_id: must be 1–64 letters, digits or . _ : / - (the first a letter or digit)")
        if not 0 <= row.event_time_ms <= MAX_SAFE_INT:
            raise fail(f"{f} line {row.line}: event_time_ms: must be an integer in 0..2^53-1")
        report = report_object(row.report)
        as_written = {**report, "borrower": written[row.line]} if written and row.line in written else report
        record = {"record_type": row.record_type, "loan_id": row.loan_id, "event_time_ms": row.event_time_ms, "report": as_written}
        s = new_salt() if salt else None
        out.append({"path": str(f), "line": row.line, "salt": s, "digest": digest_bytes(canonical_json(record), s),
                    "record_type": row.record_type, "loan_id": row.loan_id, "event_time_ms": row.event_time_ms, "report": report})
    return out


def _line_kind(fields: dict[str, Any], record_type: str) -> str:
    return fields["record_type"] if fields.get("record_type") in RECORD_TYPES else record_type


def _identifier(value: Any, kind: Any, where: str) -> BorrowerId | None:
    """A report's borrower that must be pseudonymised (an ID number or credit code, checked), or None if it is already
    a pseudonym or not text (the report's own rules then judge it)."""
    if not isinstance(value, str) or not value or _PSEUDONYM.fullmatch(value):
        return None
    try:
        return parse_borrower_id(value, kind if kind in BORROWER_KINDS else None)
    except BorrowerIdError as exc:
        raise fail(f"{where}: report.borrower: {exc} (nothing was deposited)") from None


def _csv_identifiers(f: Path, text: str) -> tuple[list[tuple[int, int, str, BorrowerId]], list[list[str]]]:
    """The identifiers in a reports CSV's borrower column (line, row, cell as written, identifier) and its rows."""
    reader = csv.reader(io.StringIO(text), strict=True)
    rows: list[list[str]] = []
    ends: list[int] = []  # where each row ends in the file, as parse_reports_csv names lines
    try:
        for row in reader:
            rows.append(row)
            ends.append(reader.line_num)
    except csv.Error as exc:
        raise fail(f"{f}: not a CSV file ({exc})") from None
    header = rows[0] if rows else []
    if "borrower" not in header or "record_type" not in header:
        return [], rows
    column, type_column = header.index("borrower"), header.index("record_type")
    kind_column = header.index("borrower_kind") if "borrower_kind" in header else None
    found = []
    for n, row in enumerate(rows[1:], start=1):
        if len(row) != len(header) or row[type_column] not in PSEUDONYMISED:
            continue  # a malformed row: parse_reports_csv names it
        bid = _identifier(row[column], row[kind_column] if kind_column is not None else None, f"{f} line {ends[n]}")
        if bid is not None:
            found.append((ends[n], n, row[column], bid))
    return found, rows


def pseudonymise(sources: list[tuple[Path, Any]], record_type: str, pseudonyms: Any) -> dict[tuple[str, int], Any]:
    """Every identifier in the contract and consent reports of ``sources`` replaced by its pseudonym, in one batched call
    of ``pseudonyms(ids) -> names``: a wrong check character stops here, naming its line, before anything is sent.
    Returns, per (file, line), the report to deposit (.jsonl) or (text with pseudonyms, cells as written) (.csv)."""
    wanted: list[tuple[tuple[str, int], Any, BorrowerId]] = []
    csv_rows: dict[str, tuple[list[list[str]], list[tuple[int, int, str, BorrowerId]]]] = {}
    for f, content in sources:
        if f.suffix == ".csv":
            found, rows = _csv_identifiers(f, content)
            if found:
                csv_rows[str(f)] = (rows, found)
                wanted += [((str(f), line), None, bid) for line, _, _, bid in found]
            continue
        for n, record in content:
            fields = record if isinstance(record, dict) else {}
            report = fields.get("report")
            if _line_kind(fields, record_type) in PSEUDONYMISED and isinstance(report, dict):
                bid = _identifier(report.get("borrower"), report.get("borrower_kind"), f"{f} line {n}")
                if bid is not None:
                    wanted.append(((str(f), n), report, bid))
    if not wanted:
        return {}
    unique = list(dict.fromkeys(bid for _, _, bid in wanted))
    names = dict(zip(unique, pseudonyms(unique)))
    out: dict[tuple[str, int], Any] = {}
    for place, report, bid in wanted:
        if report is not None:
            out[place] = {**report, "borrower": names[bid]}
    for path, (rows, found) in csv_rows.items():
        column = rows[0].index("borrower")
        for _, n, _, bid in found:
            rows[n][column] = names[bid]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        out[(path, 0)] = (buffer.getvalue(), {line: cell for line, _, cell, _ in found})
    return out


def collect_records(paths: list[Path], record_type: str, salt: bool, pseudonyms: Any = None) -> list[dict[str, Any]]:
    """Every record to deposit: files (a directory gives every file under it), .jsonl lines (a record each, with its
    record type, loan id, event time and report if the line has them), .csv rows (reports in the CSV shape).

    ``pseudonyms`` (identifiers -> pseudonyms, e.g. the credit chain's OPRF): a contract's or consent's borrower given
    as a resident ID number or unified social credit code is replaced by its pseudonym in the deposited report; the
    item's digest stays that of the record as the file holds it, so the lender's own file is still the evidence."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise fail(f"{path} does not exist")
    sources: list[tuple[Path, Any]] = []
    for f in files:
        if f.suffix == ".jsonl":
            lines = []
            for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    lines.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise fail(f"{f}:{n} is not JSON ({exc.msg})") from None
            sources.append((f, lines))
        elif f.suffix == ".csv":
            try:
                sources.append((f, f.read_text(encoding="utf-8")))
            except UnicodeDecodeError as exc:
                raise fail(f"{f}: not a UTF-8 CSV file ({exc})") from None
        else:
            if record_type == "consent":
                raise fail(f"{f}: a consent carries its report: deposit consents from .jsonl lines or .csv rows")
            sources.append((f, None))
    replaced = pseudonymise(sources, record_type, pseudonyms) if pseudonyms is not None else {}
    out: list[dict[str, Any]] = []
    for f, content in sources:
        if f.suffix == ".jsonl":
            out += [_jsonl_record(f, n, record, record_type, salt, replaced.get((str(f), n))) for n, record in content]
        elif f.suffix == ".csv":
            text, written = replaced.get((str(f), 0), (content, None))
            out += _csv_records(f, salt, text, written)
        else:
            s = new_salt() if salt else None
            out.append({"path": str(f), "salt": s, "digest": digest_bytes(f.read_bytes(), s), "record_type": record_type,
                        "loan_id": _loan_id(f.stem), "event_time_ms": int(f.stat().st_mtime * 1000)})
    return out


def _bureau_pseudonyms(bureau: str, lender_id: str, private: Any, enabled: bool) -> Any:
    """Identifiers -> pseudonyms through the credit chain's OPRF with the lender's own key (blinded; proof checked)."""
    from credit_chain.client import CreditClient, CreditError
    from evidence.oprf import OprfError

    def compute(ids: list[BorrowerId]) -> list[str]:
        try:
            with CreditClient(bureau, lender_id=lender_id, key=private) as client, \
                    progress_bar("computing pseudonyms", len(ids), enabled=enabled) as update:
                return client.pseudonyms(ids, update)
        except CreditError as exc:
            raise fail(f"the credit chain refused the pseudonyms (nothing was deposited): {exc.status} {exc.detail}") from None
        except OprfError as exc:
            raise fail(f"the credit chain's answer does not verify against its published OPRF key (nothing was deposited): {exc}") from None
        except httpx.HTTPError as exc:
            raise fail(f"cannot reach the credit chain at {bureau} (nothing was deposited): {exc.__class__.__name__}") from None

    return compute


@lender_app.command("deposit")
def deposit(
    paths: Annotated[list[Path], typer.Argument(help="Files, directories (every file under them), .jsonl files (a record per line, "
                                                 "with record_type, loan_id, event_time_ms and report fields if it has them) or "
                                                 ".csv files of reports (one record per row).")],
    server: Annotated[str, typer.Option("--server", help="Supervision chain URL.")],
    lender_id: Annotated[str, typer.Option("--lender", help="Your lender id.")],
    key: Annotated[Path, typer.Option("--key", help="Your private key file (0600).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write receipts.json.")] = Path("receipts.json"),
    record_type: Annotated[str, typer.Option("--record-type", help=f"One of {', '.join(RECORD_TYPES)}.")] = "other",
    salt: Annotated[bool, typer.Option("--salt/--no-salt", help="Mix a random salt into each digest (kept in receipts.json).")] = True,
    batch: Annotated[int, typer.Option(help="Items per signed request (≤ 10,000).")] = 1000,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every item has its deposit code.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 120,
    bureau: Annotated[Optional[str], typer.Option("--bureau", help="The credit chain's URL: contract and consent reports may then name the "
                                                  "borrower by ID number or credit code, replaced by its pseudonym (computed blinded, "
                                                  "with your key) before signing.")] = None,
    json_out: JsonOut = False,
) -> None:
    """Hash records locally, deposit their digests, write receipts.json.

    With --bureau, a contract's or consent's borrower given as an ID number or credit code is checked (a wrong check character stops all, naming the line) and deposited as its pseudonym.

    The digest stays that of your record as your file holds it, so the file is still the evidence a court verifies."""
    if record_type not in RECORD_TYPES:
        raise fail(f"--record-type must be one of {', '.join(RECORD_TYPES)}")
    if not 1 <= batch <= 10_000:
        raise fail("--batch must be between 1 and 10,000")
    try:
        private = load_private_key(key)
    except ChainError as exc:
        raise fail(str(exc)) from None
    pseudonyms = _bureau_pseudonyms(bureau, lender_id, private, not json_out) if bureau else None
    records = collect_records(paths, record_type, salt, pseudonyms)
    if not records:
        raise fail("no records found")
    receipts: list[str] = []
    with LenderClient(server, lender_id, private) as client:
        try:
            with progress_bar("depositing", len(records), enabled=not json_out) as update:
                for start in range(0, len(records), batch):
                    chunk = records[start : start + batch]
                    answer = client.deposit([DepositItem(r["digest"], r["record_type"], r["loan_id"], r["event_time_ms"], report=r.get("report"))
                                             for r in chunk])
                    receipts.append(answer["receipt"])
                    for r, item in zip(chunk, answer["items"]):
                        # the commitment salt opens the item's public commitment (with the loan id): keep it private, like the record
                        r.update(index=item["index"], status=item["status"], deposit_code=None, commitment_salt=item["commitment_salt"])
                    update(start + len(chunk))
            timed_out = False
            if wait:
                deadline = time.monotonic() + timeout
                with progress_bar("waiting for deposit codes", len(records), enabled=not json_out) as update:
                    for n, r in enumerate(records):
                        view = client.wait_for([r["index"]], "anchored", max(0.0, deadline - time.monotonic()))[r["index"]]
                        r.update(status=view["status"], deposit_code=view.get("deposit_code"))
                        update(n + 1)
                timed_out = any(r["deposit_code"] is None for r in records)
        except DepositError as exc:
            raise fail(f"the chain refused the deposit: {exc}") from None
        except httpx.HTTPError as exc:
            raise fail(f"cannot reach {server}: {exc.__class__.__name__}") from None
    document = {"server": server, "lender_id": lender_id, "receipts": receipts,
                "items": records}
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    summary = {"out": str(out), "deposited": len(records), "with_code": sum(1 for r in records if r.get("deposit_code"))}
    if json_out:
        emit_json(summary)
    else:
        console.print(f"deposited {len(records)} records; receipts in [bold]{out}[/]")
        if wait:
            console.print(f"{summary['with_code']} of {len(records)} have their deposit code")
    if wait and timed_out:
        raise typer.Exit(1)
