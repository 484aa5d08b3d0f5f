"""`fivechains service …`: run the service chain (服务链), and the lenders', funders' and buyers', operator's and regulator's tools.

A lender sends a pool of loans (records with their deposit codes), certifies it and proposes a pledge or transfer;
the funder or buyer accepts or releases; anyone checks a pool certificate and a loan's proof offline with the
service chain's public key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Optional

import httpx
import typer
from rich.markup import escape

from chain.errors import ChainError

from .chain_dirs import locate
from .config_cli import ConfigFile, settings_or_fail
from .output import console, emit_json, err_console, fail, progress_bar
from .token_options import TokenFile, resolve_token, token_option

service_app = typer.Typer(help="The service chain (服务链): pool certificates, the pledge registry, transfers of loans.", no_args_is_help=True)

DEFAULT_SERVER = "http://127.0.0.1:9000"


def build_service_chain(settings: Any, supervision: str | None, supervision_token_file: Path | None, judicial: str | None) -> Any:
    """The service chain of these settings (used by `service serve` and `up`)."""
    from service_chain.config import ServiceConfig
    from service_chain.rules import DEFAULT_RULES, RulesError
    from service_chain.service import ServiceChain

    sc = settings.service
    folder = locate(settings.service_dir(), "service", database=sc.db_url is None) or settings.service_dir()
    config = ServiceConfig(folder, sc.db_url, sc.chain_id, supervision_url=supervision, supervision_token_file=supervision_token_file,
                           feed_interval_ms=sc.feed_interval_ms, seal_interval_ms=sc.seal_interval_ms, judicial_target=judicial,
                           certs_dir=settings.certs() if judicial else None, rules_path=sc.rules or DEFAULT_RULES,
                           hash_suite=settings.hash_suite(), key_type=settings.key_type(), check_workers=sc.check_workers, warm_workers=True)
    try:
        return ServiceChain(config)
    except RulesError as exc:
        raise fail(f"the rule file cannot be used: {exc}") from None


@service_app.command("serve")
def serve(
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Database, keys and tokens live here (default: DATA_DIR/service).")] = None,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (default: 9000).")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Database URL (default: SQLite in --data-dir).")] = None,
    supervision: Annotated[Optional[str], typer.Option("--supervision", help="The supervision chain's URL (its report feed).")] = None,
    supervision_token_file: Annotated[Optional[Path], typer.Option("--supervision-token-file", help="The supervision chain's regulator token (the feed's credential).")] = None,
    judicial: Annotated[Optional[str], typer.Option("--judicial", help="HOST:PORT of the judicial chain to anchor sealed blocks to.")] = None,
    certs: Annotated[Optional[Path], typer.Option("--certs", help="Consortium certificates (CA and this chain's client certificate).")] = None,
    rules: Annotated[Optional[Path], typer.Option("--rules", help="The platform's rule file (TOML).")] = None,
    suite: Annotated[Optional[str], typer.Option("--suite", help="A new chain's suite: ed25519 or sm2; an existing chain keeps its own.")] = None,
    config: ConfigFile = None,
) -> None:
    """Serve the service chain (OpenAPI docs at /docs, pages at /service/). Flags override FIVECHAINS_* and --config."""
    import uvicorn

    from service_chain.api import create_app

    settings = settings_or_fail(config, {"certs_dir": certs, "suite": suite, "service": {"data_dir": data_dir, "host": host, "port": port,
                                                                                         "db_url": db, "rules": rules}})
    if judicial and not settings.certs_dir:
        raise fail("--judicial needs --certs DIR (mutual TLS)")
    if supervision and not supervision_token_file:
        raise fail("--supervision needs --supervision-token-file (the feed is the regulator's)")
    chain = build_service_chain(settings, supervision, supervision_token_file, judicial)
    sc = settings.service
    console.print(f"service chain [bold]{chain.config.chain_id}[/]  http://{sc.host}:{sc.port}  (API docs /docs, pages /service/)")
    uvicorn.run(create_app(chain), host=sc.host, port=sc.port, log_level="warning", timeout_graceful_shutdown=30)


# --- shared --------------------------------------------------------------------------------------

JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Server = Annotated[str, typer.Option("--server", help="The service chain's URL.")]
DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="The service chain's directory or the `fivechains up` directory: "
                                                                   "the token is read from there.")]
Lender = Annotated[str, typer.Option("--lender", help="Your lender id (as registered on the supervision chain).")]
Party = Annotated[str, typer.Option("--party", help="Your funder or buyer id (as the platform's operator registered it).")]
Key = Annotated[Path, typer.Option("--key", help="Your private key (the one registered for your id).")]
SomeLender = Annotated[Optional[str], typer.Option("--lender", help="Sign as this lender (with --key) …")]
SomeParty = Annotated[Optional[str], typer.Option("--party", help="… or as this funder or buyer (with --key).")]
SomeKey = Annotated[Optional[Path], typer.Option("--key", help="Your private key (the lender's or the funder's or buyer's).")]
REGULATOR_ENV = "FIVECHAINS_SERVICE_TOKEN"
OPERATOR_ENV = "FIVECHAINS_SERVICE_OPERATOR_TOKEN"
COURT_ENV = "FIVECHAINS_SERVICE_COURT_TOKEN"
RegulatorToken = Annotated[Optional[str], token_option(REGULATOR_ENV, "The service chain's regulator token")]
OperatorToken = Annotated[Optional[str], token_option(OPERATOR_ENV, "The platform operator's token")]
CourtToken = Annotated[Optional[str], token_option(COURT_ENV, "The court's token")]
PURPOSES = ("financing", "transfer")
PARTY_KINDS = ("funder", "buyer")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # the service chain's id rule (service_chain.service), checked before sending
_RECORD_KEYS = {"deposit_code", "record", "canonical", "content_b64", "salt"}
_LOAN_KEYS = {"loan_id", "claimed_outstanding_fen", "records"}
PROOF_PAGE = 10_000  # proofs per request when reading a whole pool (the API's limit)
LOAN_IDS_PER_REQUEST = 1_000  # --loan ids per request (the API's limit)
SHOWN = 20  # exceptions and problems shown on screen; --json gives them all

pool_app = typer.Typer(help="A lender's pools: open one, add loans (each checked against your anchored deposits), certify, proofs.",
                       no_args_is_help=True)
party_app = typer.Typer(help="Funders and buyers registered on the platform (the operator).", no_args_is_help=True)
service_app.add_typer(pool_app, name="pool")
service_app.add_typer(party_app, name="party")


def _service_dir(data_dir: Path | None) -> Path | None:
    if data_dir is None:
        return None
    found = locate(data_dir, "service") or locate(data_dir, "service", database=False)
    if found is None:
        raise fail(f"no service chain in {data_dir} (expected service.db or signer.key there or in {data_dir / 'service'})")
    return found


def _token_client(ctx: typer.Context, server: str, token: str | None, token_file: Path | None, data_dir: Path | None, *,
                  envvar: str, file_name: str, who: str):  # type: ignore[no-untyped-def]
    from service_chain.client import ServiceClient

    given = resolve_token(ctx, token, token_file, envvar)
    folder = _service_dir(data_dir)
    if given is None and folder is not None:
        try:
            given = (folder / file_name).read_text().strip()
        except OSError as exc:
            raise fail(f"cannot read {folder / file_name}: {exc.strerror}") from None
    if not given:
        raise fail(f"the {who}'s token is needed: --token-file FILE, {envvar}, or --data-dir of the service chain ({file_name})")
    return ServiceClient(server, token=given)


def _regulator_client(ctx: typer.Context, server: str, token: str | None, token_file: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from service_chain.config import TOKEN_FILE

    return _token_client(ctx, server, token, token_file, data_dir, envvar=REGULATOR_ENV, file_name=TOKEN_FILE, who="regulator")


def _operator_client(ctx: typer.Context, server: str, token: str | None, token_file: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from service_chain.config import OPERATOR_TOKEN_FILE

    return _token_client(ctx, server, token, token_file, data_dir, envvar=OPERATOR_ENV, file_name=OPERATOR_TOKEN_FILE, who="platform operator")


def _court_client(ctx: typer.Context, server: str, token: str | None, token_file: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from service_chain.config import COURT_TOKEN_FILE

    return _token_client(ctx, server, token, token_file, data_dir, envvar=COURT_ENV, file_name=COURT_TOKEN_FILE, who="court")


def _private_key(key: Path) -> Any:
    from chain.keys import load_private_key

    try:
        return load_private_key(key)
    except (ChainError, OSError, ValueError) as exc:
        raise fail(f"cannot read the key {key}: {exc}") from None


def _lender_client(server: str, lender: str, key: Path):  # type: ignore[no-untyped-def]
    from service_chain.client import ServiceClient

    return ServiceClient(server, lender_id=lender, key=_private_key(key))


def _party_client(server: str, party: str, key: Path):  # type: ignore[no-untyped-def]
    from service_chain.client import ServiceClient

    return ServiceClient(server, party_id=party, key=_private_key(key))


def _signer_client(server: str, lender: str | None, party: str | None, key: Path | None):  # type: ignore[no-untyped-def]
    """A lender's or a funder's/buyer's client: reads that either may make."""
    if (lender is None) == (party is None):
        raise fail("sign as the lender (--lender ID) or as the funder or buyer (--party ID), not both, with --key FILE")
    if key is None:
        raise fail("--key FILE is needed (your private key)")
    return _lender_client(server, lender, key) if lender is not None else _party_client(server, party or "", key)


_HINTS = {401: " (is it the right id and key, or token? a lender's key reaches the service chain through the supervision chain's "
               "feed within seconds of its registration)"}


def _call(fn, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    from service_chain.client import ServiceError

    try:
        return fn(*args, **kwargs)
    except ServiceError as exc:
        raise fail(f"the service chain refused: {exc.status} {escape(exc.detail)}{_HINTS.get(exc.status, '')}", 1) from None
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach the service chain: {exc.__class__.__name__}: {exc}") from None


def _yuan(fen: int | None) -> str:
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def _when(time_ms: int | None) -> str:
    """A time in Beijing time, as the platform's dates are."""
    import datetime as dt

    if time_ms is None:
        return "—"
    return dt.datetime.fromtimestamp(time_ms / 1000, dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


def _write(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {what} to {path}: {exc.strerror}") from None


def _writable(path: Path) -> None:
    """Refuse an --out that cannot be written before anything is done on the chain."""
    if path.is_dir():
        raise fail(f"--out {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise fail(f"--out {path}: the directory {path.parent} does not exist")


def _listed(problems: list[str]) -> str:
    shown = problems[:SHOWN] + ([f"… and {len(problems) - SHOWN} more"] if len(problems) > SHOWN else [])
    return "\n  " + "\n  ".join(shown)


# --- the lender's side: pools ----------------------------------------------------------------------

@pool_app.command("new")
def pool_new(
    purpose: Annotated[str, typer.Option("--purpose", help="financing (pledged to a funder) or transfer (sold to a buyer).")],
    offered_to: Annotated[str, typer.Option("--offered-to", help="The funder's or buyer's id: the only party that will see the pool.")],
    lender: Lender, key: Key, server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Open a pool for financing (offered to a funder) or a transfer (to a buyer); prints its id.

    Then add loans with `service pool add POOL LOANS_FILE` and close it with `service pool certify`."""
    if purpose not in PURPOSES:
        raise fail(f"--purpose must be one of {', '.join(PURPOSES)}")
    with _lender_client(server, lender, key) as client:
        pool_id = _call(client.new_pool, purpose, offered_to)
    if json_out:
        emit_json({"pool_id": pool_id, "purpose": purpose, "offered_to": offered_to, "state": "open"})
        return
    console.print(pool_id, highlight=False)
    err_console.print(f"opened pool [bold]{pool_id}[/] for {purpose}, offered to {offered_to}; add loans: "
                      f"fivechains service pool add {pool_id} LOANS.jsonl --lender {lender} --key {key}", soft_wrap=True, highlight=False)


def _pool_record(n: int, value: Any) -> dict[str, Any]:
    from evidence.canonical_json import canonical_json

    if not isinstance(value, dict):
        raise ValueError(f"record {n} is not a JSON object")
    unknown = set(value) - _RECORD_KEYS
    if unknown:
        raise ValueError(f"record {n} has unknown fields: {', '.join(sorted(unknown))}")
    if not isinstance(value.get("deposit_code"), str):
        raise ValueError(f"record {n} needs its deposit_code (a string)")
    given = [k for k in ("record", "canonical", "content_b64") if k in value]
    if len(given) != 1:
        raise ValueError(f"record {n}: give exactly one of record, canonical or content_b64")
    if "salt" in value and not isinstance(value["salt"], str):
        raise ValueError(f"record {n}: salt must be a hex string")
    out = {k: v for k, v in value.items() if k != "record"}
    if given == ["record"]:  # sent as its RFC 8785 text: the bytes that were hashed, whatever JSON encoder reads it
        if not isinstance(value["record"], dict):
            raise ValueError(f"record {n}: record must be a JSON object")
        try:
            out["canonical"] = canonical_json(value["record"]).decode()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"record {n} cannot be canonicalised (RFC 8785): {exc}") from None
    elif not isinstance(value[given[0]], str):
        raise ValueError(f"record {n}: {given[0]} must be a string")
    return out


def _pool_loan(value: Any) -> dict[str, Any]:
    from service_chain.config import MAX_LOAN_RECORDS

    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    missing, unknown = _LOAN_KEYS - set(value), set(value) - _LOAN_KEYS
    if missing:
        raise ValueError(f"missing {', '.join(sorted(missing))}")
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    loan_id, claimed, records = value["loan_id"], value["claimed_outstanding_fen"], value["records"]
    if not isinstance(loan_id, str) or not _ID.fullmatch(loan_id):
        raise ValueError("loan_id must be 1–64 letters, digits or . _ - (starting with a letter or digit)")
    if type(claimed) is not int or claimed < 0:
        raise ValueError(f"loan {loan_id}: claimed_outstanding_fen must be a non-negative integer (fen)")
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_LOAN_RECORDS:
        raise ValueError(f"loan {loan_id}: records must be a list of 1 to {MAX_LOAN_RECORDS} records")
    return {"loan_id": loan_id, "claimed_outstanding_fen": claimed, "records": [_pool_record(n, r) for n, r in enumerate(records, start=1)]}


def _read_loans(file: Path) -> list[dict[str, Any]]:
    """The loans of a JSON Lines file, every problem named by its line; nothing is sent if any line is wrong."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    loans: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            loan = _pool_loan(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(f"{file} line {n}: not JSON ({exc.msg}, column {exc.colno})")
            continue
        except ValueError as exc:
            problems.append(f"{file} line {n}: {exc}")
            continue
        if loan["loan_id"] in seen:
            problems.append(f"{file} line {n}: loan {loan['loan_id']} is already on line {seen[loan['loan_id']]}")
            continue
        seen[loan["loan_id"]] = n
        loans.append(loan)
    if problems:
        raise fail("the loans file has problems (nothing was sent):" + _listed(problems))
    if not loans:
        raise fail(f"{file} holds no loans (one JSON object a line: loan_id, claimed_outstanding_fen, records)")
    return loans


def _exceptions_table(rows: list[tuple[str, list[dict[str, Any]] | list[str]]], title: str) -> Any:
    from rich.table import Table

    with_details = any(isinstance(e, dict) for _, exceptions in rows for e in exceptions)  # a pool's view has the codes only
    table = Table("loan 贷款", "exception 异常", *(["detail 说明"] if with_details else []), title=title, show_lines=True)
    for loan_id, exceptions in rows[:SHOWN]:
        codes = [e["code"] if isinstance(e, dict) else e for e in exceptions]
        details = [escape(e.get("detail", "")) for e in exceptions if isinstance(e, dict)]
        table.add_row(loan_id, "\n".join(codes), *(["\n".join(details)] if with_details else []))
    return table


def _code_counts(codes: list[str]) -> str:
    counts: dict[str, int] = {}
    for c in codes:
        counts[c] = counts.get(c, 0) + 1
    return ", ".join(f"{c} {n:,}" for c, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])))


@pool_app.command("add")
def pool_add(
    pool_id: Annotated[str, typer.Argument(metavar="POOL", help="The pool's id (from `service pool new`).")],
    loans_file: Annotated[Path, typer.Argument(metavar="LOANS_FILE", help="JSON Lines: one loan a line, {loan_id, claimed_outstanding_fen, "
                                                                          "records: [{deposit_code, record | canonical | content_b64, salt?}]}.")],
    lender: Lender, key: Key, server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Add loans to your open pool; each is checked now against your anchored deposits and its verdict comes back.

    Each line of LOANS_FILE is one loan: its id, the outstanding principal you claim (fen) and its records, each with its deposit code.

    A record is the JSON record itself ("record", sent as its RFC 8785 text), that text ("canonical") or a file's bytes ("content_b64"), with its "salt" if it was deposited salted.

    A loan is eligible when its records are the ones you deposited, on time, adding up to what you claim, and it is not overdue, pledged or sold; otherwise its exceptions say why.

    The loans are sent 5,000 a request; a wrong line is named and nothing is sent. --json prints every loan's verdict."""
    loans = _read_loans(loans_file)
    from service_chain.client import ServiceError

    done = [0]
    with _lender_client(server, lender, key) as client, progress_bar("checking loans", len(loans), enabled=not json_out) as update:
        def progress(n: int) -> None:
            done[0] = n
            update(n)

        try:
            verdicts = client.add_loans(pool_id, loans, progress)
        except ServiceError as exc:
            before = (f" ({done[0]:,} of the {len(loans):,} loans had been added before this; the rest were not)" if done[0]
                      else " (nothing was added)")
            raise fail(f"the service chain refused: {exc.status} {escape(exc.detail)}{_HINTS.get(exc.status, '')}{before}", 1) from None
        except httpx.HTTPError as exc:
            raise fail(f"cannot reach the service chain: {exc.__class__.__name__}: {exc} ({done[0]:,} of the {len(loans):,} loans had been "
                       "added before this)") from None
    eligible = [v for v in verdicts if v["eligible"]]
    bad = [v for v in verdicts if not v["eligible"]]
    if json_out:
        emit_json({"pool_id": pool_id, "added": len(verdicts), "eligible": len(eligible), "exceptions": len(bad), "loans": verdicts})
        return
    outstanding = sum(v["outstanding_fen"] or 0 for v in eligible)
    console.print(f"pool [bold]{pool_id}[/]: added {len(verdicts):,} loans — eligible 合格 [green]{len(eligible):,}[/] "
                  f"({_yuan(outstanding)} outstanding), exceptions 异常 [{'red' if bad else 'green'}]{len(bad):,}[/]", highlight=False)
    if bad:
        console.print(f"exception codes: {_code_counts([e['code'] for v in bad for e in v['exceptions']])}", highlight=False)
        more = f", first {SHOWN}; --json for all" if len(bad) > SHOWN else ""
        console.print(_exceptions_table([(v["loan_id"], v["exceptions"]) for v in bad], f"exceptions 异常 ({len(bad):,}{more})"))
    console.print(f"more loans: run `service pool add` again; when complete: fivechains service pool certify {pool_id} --out CERT_FILE",
                  highlight=False, soft_wrap=True)


@pool_app.command("certify")
def pool_certify(
    pool_id: Annotated[str, typer.Argument(metavar="POOL", help="The pool's id.")],
    out: Annotated[Path, typer.Option("--out", help="Write the certificate (a signed note) here: give it to the funder or buyer.")],
    lender: Lender, key: Key, server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Close your pool and have the service chain sign its certificate (资产池证书); no loan can be added after.

    The certificate names the pool, its counts, the eligible loans' outstanding principal, the Merkle root over every loan and the rule file's SHA-256.

    It is signed with the service chain's key, printed here: anyone checks it with `service verify-certificate`. Loans' proofs under it: `service pool proofs`."""
    _writable(out)
    with _lender_client(server, lender, key) as client:
        cert = _call(client.certify, pool_id)
    try:
        out.write_text(cert["certificate"], encoding="utf-8")
    except OSError as exc:
        raise fail(f"the pool is certified, but the certificate cannot be written to {out}: {exc.strerror}; "
                   f"it is also in `service pool proofs {pool_id}` and `service pool show {pool_id} --json`") from None
    if json_out:
        emit_json({**cert, "out": str(out)})
        return
    console.print(f"pool [bold]{pool_id}[/] certified (service entry {cert['index']}): loans {cert['loans']:,}, eligible {cert['eligible']:,}, "
                  f"exceptions {cert['loans'] - cert['eligible']:,}, eligible outstanding {_yuan(cert['outstanding_fen'])}", highlight=False)
    console.print(f"wrote the certificate to {out}", highlight=False)
    console.print(f"service chain's verifier key: {cert['vkey']}", highlight=False, soft_wrap=True)
    console.print(f"check it: fivechains service verify-certificate {out} --vkey {cert['vkey']}", highlight=False, soft_wrap=True)


@pool_app.command("show")
def pool_show(
    pool_id: Annotated[str, typer.Argument(metavar="POOL", help="The pool's id.")],
    lender: SomeLender = None, party: SomeParty = None, key: SomeKey = None,
    server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """A pool: its state, counts, outstanding, exceptions and certificate (its lender, or the funder or buyer it is offered to)."""
    with _signer_client(server, lender, party, key) as client:
        view = _call(client.pool, pool_id)
    if json_out:
        emit_json(view)
        return
    from rich.table import Table

    table = Table("item 项目", "value 数值", title=f"pool 资产池 {view['pool_id']}", show_header=False)
    table.add_row("lender 贷款机构", f"{view['lender_id']} {escape(view['lender_name'])}")
    table.add_row("purpose 用途", f"{view['purpose']} → {view['offered_to']} {escape(view['offered_to_name'])}")
    table.add_row("state 状态", view["state"])
    table.add_row("opened 创建", _when(view["created_ms"]))
    table.add_row("loans 贷款", f"{view['loans']:,}")
    table.add_row("eligible 合格", f"{view['eligible']:,}")
    table.add_row("exceptions 异常", f"{view['exceptions_count']:,}" + (f"  ({_code_counts_of(view['exception_codes'])})" if view["exception_codes"] else ""))
    table.add_row("eligible outstanding 合格余额", _yuan(view["outstanding_fen"]))
    table.add_row("rules 规则", f"{view['rules']['version']} (sha256 {view['rules']['sha256'][:16]}…)")
    if view["certificate"]:
        table.add_row("certificate 证书", f"service entry {view['certificate_index']}" +
                      (f", deposit code {view['certificate_code']}" if view["certificate_code"] else " (being anchored)"))
    console.print(table)
    if view["exceptions"]:
        more = f", first {SHOWN}; --json for up to 1,000" if len(view["exceptions"]) > SHOWN else ""
        console.print(_exceptions_table([(e["loan_id"], e["exceptions"]) for e in view["exceptions"]], f"exceptions 异常 ({view['exceptions_count']:,}{more})"))


def _code_counts_of(counts: dict[str, int]) -> str:
    return ", ".join(f"{c} {n:,}" for c, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])))


@pool_app.command("list")
def pool_list(
    lender: SomeLender = None, party: SomeParty = None, key: SomeKey = None,
    server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Your pools (a lender's own, or those offered to a funder or buyer), newest first."""
    with _signer_client(server, lender, party, key) as client:
        rows = _call(client.pools)
    if json_out:
        emit_json({"pools": rows})
        return
    from rich.table import Table

    table = Table("pool 资产池", "lender 贷款机构", "purpose 用途", "offered to 对象", "state 状态", "loans 贷款", "eligible 合格",
                  "outstanding 余额", "opened 创建", title=f"pools 资产池 ({len(rows)})")
    for r in rows:
        table.add_row(r["pool_id"], r["lender_id"], r["purpose"], r["offered_to"], r["state"], f"{r['loans']:,}", f"{r['eligible']:,}",
                      _yuan(r["outstanding_fen"]), _when(r["created_ms"]))
    console.print(table)


@pool_app.command("proofs")
def pool_proofs(
    pool_id: Annotated[str, typer.Argument(metavar="POOL", help="The pool's id (certified).")],
    loan: Annotated[Optional[list[str]], typer.Option("--loan", help="Only this loan's proof (repeat the option); default: every loan.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write {certificate, vkey, proofs} here (JSON); default: print it.")] = None,
    lender: SomeLender = None, party: SomeParty = None, key: SomeKey = None,
    server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Loans' offline proofs under the pool's certificate: each loan's leaf (verdict, records' digests and codes) and its Merkle path.

    The file holds the certificate, the service chain's verifier key and the proofs (every loan, read 10,000 a request, or those of --loan).

    Anyone checks it with `service verify-certificate CERT_FILE --vkey KEY --proofs FILE`, with a key got from the platform, not from the file.

    A loan asked for with --loan that is not in the pool is named, and the exit code is 1."""
    if out is not None:
        _writable(out)
    proofs: list[dict[str, Any]] = []
    certificate = vkey = None
    with _signer_client(server, lender, party, key) as client:
        if loan:
            wanted = list(dict.fromkeys(loan))
            with progress_bar("reading proofs", len(wanted), enabled=not json_out and out is not None) as update:
                for n in range(0, len(wanted), LOAN_IDS_PER_REQUEST):
                    page = _call(client.proofs, pool_id, wanted[n:n + LOAN_IDS_PER_REQUEST])
                    certificate, vkey = page["certificate"], page["vkey"]
                    proofs += page["proofs"]
                    update(min(n + LOAN_IDS_PER_REQUEST, len(wanted)))
            proofs.sort(key=lambda p: p["index"])
        else:
            with progress_bar("reading proofs", None, enabled=not json_out and out is not None) as update:
                start, total = 0, None
                while total is None or start < total:
                    page = _call(client.proofs, pool_id, None, start, PROOF_PAGE)
                    certificate, vkey = page["certificate"], page["vkey"]
                    if not page["proofs"]:
                        break
                    total = page["proofs"][0]["size"]
                    proofs += page["proofs"]
                    start += len(page["proofs"])
                    update(len(proofs), total)
    document = {"pool_id": pool_id, "certificate": certificate, "vkey": vkey, "proofs": proofs}
    missing: list[str] = []
    if loan:
        found = {_leaf_loan(p) for p in proofs}
        missing = [x for x in dict.fromkeys(loan) if x not in found]
    if out is None:
        emit_json(document)
    else:
        _write(out, json.dumps(document, ensure_ascii=False, indent=1) + "\n", "the proofs")
        if json_out:
            emit_json({"pool_id": pool_id, "proofs": len(proofs), "out": str(out), "missing": missing})
        else:
            console.print(f"wrote {len(proofs):,} proofs of pool {pool_id} to {out} (with the certificate and the service chain's key)", highlight=False)
    if missing:
        raise fail(f"not in pool {pool_id}: {', '.join(missing[:SHOWN])}" + (f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""), 1)


def _leaf_loan(proof: Any) -> str | None:
    try:
        return json.loads(proof["leaf"])["loan_id"]
    except (TypeError, KeyError, ValueError):
        return None


# --- registrations -------------------------------------------------------------------------------

def _terms(registration: dict[str, Any]) -> dict[str, Any]:
    try:
        terms = json.loads(registration["terms"])
        return terms if isinstance(terms, dict) else {}
    except (TypeError, ValueError):
        return {}


def _print_terms(registration: dict[str, Any], title: str) -> None:
    from rich.table import Table

    t = _terms(registration)
    table = Table("term 条款", "value 数值", title=title, show_header=False)
    kind = t.get("kind", registration["kind"])
    table.add_row("registration 登记", f"{registration['registration_id']} ({kind}{' 质押' if kind == 'pledge' else ' 转让'}), {registration['state']}")
    table.add_row("pool 资产池", f"{t.get('pool_id', registration['pool_id'])}")
    table.add_row("pool root 根哈希", str(t.get("pool_root")))
    table.add_row("certificate sha256 证书", str(t.get("certificate_sha256")))
    table.add_row("lender 贷款机构", str(t.get("lender_id", registration["lender_id"])))
    table.add_row("funder or buyer 资金方/受让方", str(t.get("party_id", registration["party_id"])))
    table.add_row("loans 贷款笔数", f"{t.get('loans', 0):,}")
    table.add_row("outstanding 未偿本金", _yuan(t.get("outstanding_fen")))
    table.add_row("amount 金额" if kind == "pledge" else "price 价格", _yuan(t.get("amount_fen")))
    if kind == "pledge":
        table.add_row("term 期限", f"{t.get('term_months')} months 个月")
    table.add_row("chain 链", str(t.get("chain")))
    table.add_row("proposed 提出", _when(registration.get("proposed_ms")))
    if registration.get("registered_ms"):
        table.add_row("registered 登记", f"{_when(registration['registered_ms'])}, service entry {registration['index']}" +
                      (f", deposit code {registration['deposit_code']}" if registration.get("deposit_code") else ""))
    if registration.get("released_ms"):
        table.add_row("released 解除", _when(registration["released_ms"]))
    console.print(table)


@service_app.command("propose")
def propose(
    pool_id: Annotated[str, typer.Argument(metavar="POOL", help="Your certified pool.")],
    amount_fen: Annotated[int, typer.Option("--amount-fen", min=0, help="The financing amount, or the transfer's price, in fen (分).")],
    term_months: Annotated[int, typer.Option("--term-months", min=0, max=600, help="The financing's term in months (0 for a transfer).")],
    registration_id: Annotated[Optional[str], typer.Option("--id", help="Your id for the registration (default: R-<random>).")] = None,
    lender: Lender = ..., key: Key = ..., server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Propose pledging (financing) or selling (transfer) your certified pool's eligible loans to the party it is offered to.

    You sign the terms (pool root, certificate, count, outstanding, amount, term); the funder or buyer accepts by signing the same terms (`service accept`).

    Refused at once if any eligible loan is already pledged or sold (the loans and dates are named)."""
    if registration_id is not None and not _ID.fullmatch(registration_id):
        raise fail("--id must be 1–64 letters, digits or . _ - (starting with a letter or digit)")
    with _lender_client(server, lender, key) as client:
        view = _call(client.propose, pool_id, amount_fen, term_months, registration_id)
    if json_out:
        emit_json(view)
        return
    _print_terms(view, f"proposed 已提出 · {view['registration_id']}")
    console.print(f"{view['party_id']} accepts with: fivechains service accept {view['registration_id']} --party {view['party_id']} --key KEY",
                  highlight=False, soft_wrap=True)


@service_app.command("registrations")
def registrations(
    lender: SomeLender = None, party: SomeParty = None, key: SomeKey = None,
    server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Your registrations, newest first: proposed (waiting for the funder or buyer), registered, released (lender, funder or buyer)."""
    with _signer_client(server, lender, party, key) as client:
        rows = _call(client.registrations)
    if json_out:
        emit_json({"registrations": rows})
        return
    from rich.table import Table

    table = Table("registration 登记", "kind 类型", "pool 资产池", "lender 贷款机构", "party 对方", "loans 笔数", "amount 金额", "term 期限",
                  "state 状态", "proposed 提出", "registered 登记", title=f"registrations 登记 ({len(rows)})")
    for r in rows:
        t = _terms(r)
        state = {"proposed": "[yellow]proposed[/]", "registered": "[green]registered[/]"}.get(r["state"], r["state"])
        table.add_row(r["registration_id"], r["kind"], r["pool_id"], r["lender_id"], r["party_id"], f"{t.get('loans', 0):,}",
                      _yuan(t.get("amount_fen")), f"{t.get('term_months')} m" if r["kind"] == "pledge" else "—", state,
                      _when(r["proposed_ms"]), _when(r["registered_ms"]))
    console.print(table)


def _find_registration(client: Any, registration_id: str, party: str) -> dict[str, Any]:
    rows = _call(client.registrations)
    found = next((r for r in rows if r["registration_id"] == registration_id), None)
    if found is None:
        raise fail(f"no registration {registration_id} is offered to {party} (`service registrations --party {party}` lists yours)", 1)
    return found


def _check_terms_against_pool(client: Any, registration: dict[str, Any]) -> None:
    """The terms name the pool's certificate as the party reads it: its SHA-256, root, count and outstanding."""
    import hashlib

    from chain.encoding import b64encode
    from chain.note import parse_note
    from service_chain.certificate import CertificateError, parse_certificate

    t = _terms(registration)
    pool = _call(client.pool, registration["pool_id"])
    certificate = pool.get("certificate") or ""
    problems = []
    try:
        fields = parse_certificate(parse_note(certificate).text)
    except (CertificateError, ValueError, ChainError):
        raise fail(f"the pool {registration['pool_id']} has no readable certificate; not accepting", 1) from None
    if t.get("certificate_sha256") != hashlib.sha256(certificate.encode()).hexdigest():
        problems.append("the certificate's SHA-256")
    if t.get("pool_root") != b64encode(fields.root):
        problems.append("the pool's root")
    if t.get("loans") != fields.eligible or t.get("outstanding_fen") != fields.outstanding:
        problems.append("the eligible count or outstanding")
    if problems:
        raise fail(f"the terms do not match pool {registration['pool_id']}'s certificate ({', '.join(problems)}); not accepting", 1)


@service_app.command("accept")
def accept(
    registration_id: Annotated[str, typer.Argument(metavar="REG_ID", help="The registration's id (from `service registrations`).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Accept without asking (needed when not run at a terminal).")] = False,
    party: Party = ..., key: Key = ..., server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Accept a proposed pledge or transfer offered to you (the funder or buyer): sign its terms with your key.

    The terms are shown first and checked against the pool's certificate (its SHA-256, root, count, outstanding); then you are asked to confirm (--yes to skip).

    On acceptance the registration is a service entry and every eligible loan is pledged to you, or sold to you."""
    import sys

    with _party_client(server, party, key) as client:
        registration = _find_registration(client, registration_id, party)
        if registration["state"] != "proposed":
            raise fail(f"registration {registration_id} is {registration['state']}: only a proposed one is accepted", 1)
        _check_terms_against_pool(client, registration)
        if not json_out:
            _print_terms(registration, f"terms to sign 待签条款 · {registration_id}")
        if not yes:
            if not sys.stdin.isatty():
                raise fail("accepting signs these terms with your key: confirm with --yes (there is no terminal to ask on)")
            if not typer.confirm(f"Sign these terms as {party}?", default=False, err=True):
                raise fail("not accepted (nothing was signed)", 1)
        view = _call(client.accept, registration)
    if json_out:
        emit_json(view)
        return
    console.print(f"registration [bold]{registration_id}[/] {view['state']}: {view['kind']} recorded as service entry {view['index']}",
                  highlight=False)


@service_app.command("release")
def release(
    registration_id: Annotated[str, typer.Argument(metavar="REG_ID", help="Your registered pledge's id.")],
    party: Party, key: Key, server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Release a pledge you hold (the funder), signed with your key: every loan it still encumbers is free again (a release entry)."""
    with _party_client(server, party, key) as client:
        view = _call(client.release, registration_id)
    if json_out:
        emit_json(view)
        return
    console.print(f"registration [bold]{registration_id}[/] released (service entry {view['index']}): its loans are no longer pledged",
                  highlight=False)


# --- the platform's operator ---------------------------------------------------------------------

def _public_key_bytes(source: str) -> tuple[bytes, str]:
    """The raw public key of a private key file, a public key file (PEM), a verifier key or raw hex/base64; and its type."""
    from chain.keys import key_type, load_public_key, public_key_bytes

    path = Path(source)
    try:
        if path.is_file() and b"PRIVATE KEY" in path.read_bytes():
            public = _private_key(path).public_key()
        else:
            public = load_public_key(source)
    except (ChainError, OSError, ValueError) as exc:
        raise fail(f"cannot use {source} as a public key: {exc}") from None
    return public_key_bytes(public), key_type(public)


@party_app.command("add")
def party_add(
    ctx: typer.Context,
    party_id: Annotated[str, typer.Argument(metavar="ID", help="The funder's or buyer's id, e.g. F001 (not a lender's id).")],
    name: Annotated[str, typer.Option("--name", help="Its name, as the lender sees it (1–200 characters).")],
    kind: Annotated[str, typer.Option("--kind", help="funder (takes pledges: financing) or buyer (buys loans: transfers).")],
    public_key: Annotated[str, typer.Option("--public-key", help="Its key: FILE.pub from `fivechains keys generate`, the private key file, "
                                                                  "or the raw key in hex or base64; Ed25519 or SM2.")],
    server: Server = DEFAULT_SERVER, token: OperatorToken = None, token_file: TokenFile = None, data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Register a funder or buyer with its public key (the platform's operator); recorded as a service entry.

    It then signs its reads, acceptances and releases with the private key; a lender offers it pools with --offered-to ID."""
    if kind not in PARTY_KINDS:
        raise fail(f"--kind must be one of {', '.join(PARTY_KINDS)}")
    raw, key_kind = _public_key_bytes(public_key)
    with _operator_client(ctx, server, token, token_file, data_dir) as client:
        view = _call(client.add_party, party_id, name, kind, raw)
    if json_out:
        emit_json({**view, "key_type": key_kind})
        return
    console.print(f"registered {kind} [bold]{party_id}[/] ({escape(name)}, {key_kind} key), service entry {view['index']}", highlight=False)


@party_app.command("list")
def party_list(ctx: typer.Context, server: Server = DEFAULT_SERVER, token: OperatorToken = None, token_file: TokenFile = None,
               data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """The registered funders and buyers (the platform's operator)."""
    with _operator_client(ctx, server, token, token_file, data_dir) as client:
        rows = _call(client.parties)
    if json_out:
        emit_json({"parties": rows})
        return
    import base64

    from rich.table import Table

    table = Table("id", "name 名称", "kind 类型", "key 公钥", "enabled 启用", "registered 登记", title=f"funders and buyers 资金方与受让方 ({len(rows)})")
    for p in rows:
        size = len(base64.b64decode(p["public_key"]))
        table.add_row(p["id"], escape(p["name"]), p["kind"], f"{'ed25519' if size == 32 else 'sm2'} {p['public_key'][:12]}…",
                      "yes" if p["enabled"] else "[red]no[/]", _when(p["created_ms"]))
    console.print(table)


def _set_enabled(ctx: typer.Context, party_id: str, action: str, server: str, token: str | None, token_file: Path | None,
                 data_dir: Path | None, json_out: bool) -> None:
    with _operator_client(ctx, server, token, token_file, data_dir) as client:
        view = _call(client.set_party_enabled, party_id, action == "enable")
    if json_out:
        emit_json(view)
    else:
        console.print(f"party [bold]{party_id}[/] {action}d", highlight=False)


@party_app.command("disable")
def party_disable(
    ctx: typer.Context, party_id: Annotated[str, typer.Argument(metavar="ID", help="The funder's or buyer's id.")],
    server: Server = DEFAULT_SERVER, token: OperatorToken = None, token_file: TokenFile = None, data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Disable a funder or buyer: its signed requests are refused and no pool can be offered to it (registrations stay)."""
    _set_enabled(ctx, party_id, "disable", server, token, token_file, data_dir, json_out)


@party_app.command("enable")
def party_enable(
    ctx: typer.Context, party_id: Annotated[str, typer.Argument(metavar="ID", help="The funder's or buyer's id.")],
    server: Server = DEFAULT_SERVER, token: OperatorToken = None, token_file: TokenFile = None, data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Enable a disabled funder or buyer again."""
    _set_enabled(ctx, party_id, "enable", server, token, token_file, data_dir, json_out)


# --- the court -----------------------------------------------------------------------------------

@service_app.command("holders")
def holders(
    ctx: typer.Context,
    indexes: Annotated[list[int], typer.Argument(metavar="INDEX...", help="Supervision-chain indexes of deposits (a loan's records), at most 10,000.")],
    server: Server = DEFAULT_SERVER, token: CourtToken = None, token_file: TokenFile = None, data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Who holds the claim of each deposit's loan (the court): the lender, or the buyer it was sold to and since when; and whether it is pledged."""
    if len(indexes) > 10_000 or any(i < 0 for i in indexes):
        raise fail("give at most 10,000 non-negative supervision indexes")
    with _court_client(ctx, server, token, token_file, data_dir) as client:
        rows = _call(client.holders, indexes)
    unknown = sorted(set(indexes) - {r["supervision_index"] for r in rows})
    if json_out:
        emit_json({"holders": rows, "unknown": unknown})
        return
    from rich.table import Table

    table = Table("deposit 存证", "lender 贷款机构", "loan 贷款", "holder 债权人", "since 自", "pledged 质押", "transfer 转让存证码",
                  title=f"holders of the claims 债权人 ({len(rows)})")
    for h in sorted(rows, key=lambda r: r["supervision_index"]):
        table.add_row(str(h["supervision_index"]), h["lender_id"], h["loan_id"], f"{h['holder_id']} {escape(h['holder_name'])} ({h['holder_kind']})",
                      _when(h["since_ms"]), "[yellow]yes 是[/]" if h["pledged"] else "no 否",
                      h["transfer_code"] or ("(being anchored)" if h["transfer_index"] is not None else "—"))
    console.print(table)
    if unknown:
        console.print(f"no loan record on the service chain for: {', '.join(map(str, unknown[:SHOWN]))}"
                      + (f" and {len(unknown) - SHOWN} more" if len(unknown) > SHOWN else ""), highlight=False)


# --- the regulator -------------------------------------------------------------------------------

def _print_status(view: dict[str, Any], table: Any) -> None:
    table.add_row("chain 链", view["chain_id"])
    table.add_row("entries 条目", f"{view['size']:,}")
    table.add_row("feed 报送读取", f"{view['feed_position']:,} of the supervision chain's {view['supervision_size']:,}")
    table.add_row("feed error 读取错误", f"[red]{view['feed_error']}[/]" if view.get("feed_error") else "none 无")
    table.add_row("rules 规则", f"{view['rules']['version']} (sha256 {view['rules']['sha256'][:16]}…)")


@service_app.command("overview")
def overview(ctx: typer.Context, server: Server = DEFAULT_SERVER, token: RegulatorToken = None, token_file: TokenFile = None,
             data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """The regulator's figures: pools by state, registrations by kind and state, loans pledged and sold, the feed's position."""
    with _regulator_client(ctx, server, token, token_file, data_dir) as client:
        view = _call(client.overview)
    if json_out:
        emit_json(view)
        return
    from rich.table import Table

    table = Table("item 项目", "value 数值", title="service chain overview 服务链概览", show_header=False)
    table.add_row("pools 资产池", ", ".join(f"{s} {n:,}" for s, n in sorted(view["pools"].items())) or "none 无")
    table.add_row("registrations 登记", ", ".join(f"{k} {n:,}" for k, n in sorted(view["registrations"].items())) or "none 无")
    table.add_row("loans pledged 已质押贷款", f"{view['loans_pledged']:,}")
    table.add_row("loans transferred 已转让贷款", f"{view['loans_transferred']:,}")
    _print_status(view, table)
    console.print(table)


@service_app.command("status")
def status(ctx: typer.Context, server: Server = DEFAULT_SERVER, token: RegulatorToken = None, token_file: TokenFile = None,
           data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """The service chain's size, its position in the supervision chain's report feed (and any feed error), and the rules in force."""
    with _regulator_client(ctx, server, token, token_file, data_dir) as client:
        view = _call(client.status)
    if json_out:
        emit_json(view)
        return
    from rich.table import Table

    table = Table("item 项目", "value 数值", title="service chain status 服务链状态", show_header=False)
    _print_status(view, table)
    console.print(table)


# --- anyone, offline -----------------------------------------------------------------------------

def _read_certificate(file: Path) -> str:
    """The certificate's note text: the file `pool certify --out` wrote, or a JSON file carrying it (`pool proofs`)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail(f"{file} is neither a certificate nor JSON ({exc.msg}, line {exc.lineno})", 1) from None
        if not isinstance(value, dict) or not isinstance(value.get("certificate"), str):
            raise fail(f"{file} is JSON without a certificate", 1)
        return value["certificate"]
    return text


def _read_proofs(file: Path) -> list[Any]:
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise fail(f"{file} is not JSON ({exc.msg}, line {exc.lineno})", 1) from None
    if isinstance(value, dict) and isinstance(value.get("proofs"), list):
        return value["proofs"]
    if isinstance(value, dict) and "format" in value:
        return [value]
    if isinstance(value, list):
        return value
    raise fail(f"{file} is not a proofs file (from `service pool proofs`) nor a single loan proof", 1)


def _certificate_fields(c: Any) -> dict[str, Any]:
    from chain.encoding import b64encode

    return {"chain": c.chain, "pool": c.pool, "lender": c.lender, "purpose": c.purpose, "offered_to": c.offered_to, "loans": c.loans,
            "eligible": c.eligible, "outstanding_fen": c.outstanding, "hash": c.hash, "root": b64encode(c.root), "rules_sha256": c.rules,
            "time_ms": c.time_ms}


@service_app.command("verify-certificate")
def verify_certificate_cmd(
    cert_file: Annotated[Path, typer.Argument(metavar="CERT_FILE", help="The certificate (from `service pool certify --out`, or the proofs file).")],
    vkey: Annotated[Optional[str], typer.Option("--vkey", help="The service chain's verifier key (NAME+ID+KEY), got from the platform.")] = None,
    vkey_file: Annotated[Optional[Path], typer.Option("--vkey-file", help="Or a file holding it.")] = None,
    proofs_file: Annotated[Optional[Path], typer.Option("--proofs", help="Loans' proofs to check too: the file `service pool proofs` "
                                                                          "wrote, or one proof.")] = None,
    json_out: JsonOut = False,
) -> None:
    """Check a pool certificate offline with the service chain's key, and every loan proof under it; exit 1 naming what fails.

    The key must be given (--vkey or --vkey-file): the trust comes from a key you got from the platform, never from the file checked.

    A proof leads from the loan's leaf (its verdict, records' digests and deposit codes) to the certificate's root: a changed byte fails."""
    from service_chain.certificate import CertificateError, verify_certificate, verify_proof

    if (vkey is None) == (vkey_file is None):
        raise fail("give the service chain's verifier key: --vkey KEY or --vkey-file FILE (exactly one)")
    if vkey_file is not None:
        try:
            vkey = vkey_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read the key file {vkey_file}: {exc}") from None
    note = _read_certificate(cert_file)
    proofs = _read_proofs(proofs_file) if proofs_file is not None else []
    problems: list[str] = []
    leaves: list[dict[str, Any]] = []
    certificate = None
    try:
        certificate, _ = verify_certificate(note, vkey or "")
    except CertificateError as exc:
        problems.append(f"certificate: {exc}")
    if certificate is not None and proofs:
        with progress_bar("checking proofs", len(proofs), enabled=not json_out and len(proofs) >= 1000) as update:
            for n, proof in enumerate(proofs, start=1):
                try:
                    leaves.append(verify_proof(certificate, proof))  # the signature was checked once, above
                except (CertificateError, ValueError) as exc:
                    loan = _leaf_loan(proof)
                    problems.append(f"proof {n}" + (f" (loan {loan})" if loan else "") + f": {exc}")
                if n % 1000 == 0:
                    update(n)
    ok = not problems
    fields = _certificate_fields(certificate) if certificate is not None else None
    if json_out:
        emit_json({"ok": ok, "certificate": fields, "proofs_checked": len(proofs) if certificate is not None else 0,
                   "proofs_verified": len(leaves), "problems": problems,
                   "loans": [{k: leaf.get(k) for k in ("loan_id", "eligible", "outstanding_fen", "claimed_fen", "exceptions")} for leaf in leaves]})
    else:
        _print_certificate_check(fields, proofs, leaves, problems)
    if not ok:
        raise typer.Exit(1)


def _print_certificate_check(fields: dict[str, Any] | None, proofs: list[Any], leaves: list[dict[str, Any]], problems: list[str]) -> None:
    from rich.table import Table

    if fields is not None:
        table = Table("field 字段", "value 数值", title="pool certificate 资产池证书", show_header=False)
        for label, value in (("pool 资产池", fields["pool"]), ("lender 贷款机构", fields["lender"]),
                             ("purpose 用途", f"{fields['purpose']} → {fields['offered_to']}"), ("loans 贷款", f"{fields['loans']:,}"),
                             ("eligible 合格", f"{fields['eligible']:,}"), ("outstanding 合格余额", _yuan(fields["outstanding_fen"])),
                             ("root 根哈希", f"{fields['root']} ({fields['hash']})"), ("rules sha256 规则", fields["rules_sha256"]),
                             ("chain 链", fields["chain"]), ("signed 签发", _when(fields["time_ms"]))):
            table.add_row(label, value)
        console.print(table)
    if problems:
        console.print(f"[bold red]✗ FAILED 验证失败[/] ({len(problems)} problem{'s' if len(problems) > 1 else ''}):")
        for p in problems[:SHOWN]:
            console.print(f"  [red]•[/] {p}", soft_wrap=True, highlight=False)
        if len(problems) > SHOWN:
            console.print(f"  … and {len(problems) - SHOWN} more (--json lists all)")
        return
    line = "[green]✓ OK 已验证[/]: the certificate is signed by the given service chain key"
    if proofs:
        eligible = sum(1 for leaf in leaves if leaf.get("eligible"))
        line += f"; {len(leaves):,} loan proof{'s' if len(leaves) != 1 else ''} reach its root ({eligible:,} eligible)"
    console.print(line, soft_wrap=True)


__all__ = ["service_app", "build_service_chain"]
