"""`fivechains credit …`: run the credit chain (征信链), and the lenders', the bureau operator's and the regulator's tools.

A lender computes pseudonyms (blinded: the bureau never sees an identifier) and checks an applicant with the
applicant's anchored consent, signing with its key; the bureau's operator prints a borrower's own report and
files disputes; anyone verifies a report offline with the credit chain's public key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Optional

import httpx
import typer

from chain.errors import ChainError

from .chain_dirs import locate
from .config_cli import ConfigFile, settings_or_fail
from .output import console, emit_json, fail, progress_bar
from .token_options import TokenFile, resolve_token, token_option

credit_app = typer.Typer(help="The credit chain (征信链): pseudonyms, consent-bound multi-head checks, borrowers' reports, disputes.",
                         no_args_is_help=True)

DEFAULT_SERVER = "http://127.0.0.1:8900"


def build_credit_chain(settings: Any, supervision: str | None, supervision_token_file: Path | None, judicial: str | None) -> Any:
    """The credit chain of these settings (used by `credit serve` and `up`)."""
    from credit_chain.config import CreditConfig
    from credit_chain.rules import DEFAULT_RULES, RulesError
    from credit_chain.service import CreditChain

    cr = settings.credit
    folder = locate(settings.credit_dir(), "credit", database=cr.db_url is None) or settings.credit_dir()
    config = CreditConfig(folder, cr.db_url, cr.chain_id, supervision_url=supervision, supervision_token_file=supervision_token_file,
                          feed_interval_ms=cr.feed_interval_ms, seal_interval_ms=cr.seal_interval_ms, judicial_target=judicial,
                          certs_dir=settings.certs() if judicial else None, rules_path=cr.rules or DEFAULT_RULES,
                          evaluations_per_day=cr.evaluations_per_day, hash_suite=settings.hash_suite(), key_type=settings.key_type())
    try:
        return CreditChain(config)
    except RulesError as exc:
        raise fail(f"the rule file cannot be used: {exc}") from None


@credit_app.command("serve")
def serve(
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Database, keys and tokens live here (default: DATA_DIR/credit).")] = None,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (default: 8900).")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Database URL (default: SQLite in --data-dir).")] = None,
    supervision: Annotated[Optional[str], typer.Option("--supervision", help="The supervision chain's URL (its report feed).")] = None,
    supervision_token_file: Annotated[Optional[Path], typer.Option("--supervision-token-file", help="The supervision chain's regulator token (the feed's credential).")] = None,
    judicial: Annotated[Optional[str], typer.Option("--judicial", help="HOST:PORT of the judicial chain to anchor sealed blocks to.")] = None,
    certs: Annotated[Optional[Path], typer.Option("--certs", help="Consortium certificates (CA and this chain's client certificate).")] = None,
    rules: Annotated[Optional[Path], typer.Option("--rules", help="The bureau's rule file (TOML).")] = None,
    suite: Annotated[Optional[str], typer.Option("--suite", help="A new chain's suite: ed25519 or sm2; an existing chain keeps its own.")] = None,
    config: ConfigFile = None,
) -> None:
    """Serve the credit chain (OpenAPI docs at /docs, pages at /credit/). Flags override FIVECHAINS_* and --config."""
    import uvicorn

    from credit_chain.api import create_app

    settings = settings_or_fail(config, {"certs_dir": certs, "suite": suite, "credit": {"data_dir": data_dir, "host": host, "port": port,
                                                                                        "db_url": db, "rules": rules}})
    if judicial and not settings.certs_dir:
        raise fail("--judicial needs --certs DIR (mutual TLS)")
    if supervision and not supervision_token_file:
        raise fail("--supervision needs --supervision-token-file (the feed is the regulator's)")
    chain = build_credit_chain(settings, supervision, supervision_token_file, judicial)
    cr = settings.credit
    console.print(f"credit chain [bold]{chain.config.chain_id}[/]  http://{cr.host}:{cr.port}  (API docs /docs, pages /credit/)")
    uvicorn.run(create_app(chain), host=cr.host, port=cr.port, log_level="warning", timeout_graceful_shutdown=30)


# --- shared --------------------------------------------------------------------------------------

JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Server = Annotated[str, typer.Option("--server", help="The credit chain's URL.")]
DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="The credit chain's directory or the `fivechains up` directory: its "
                                                                   "tokens (and, for the operator, the bureau's oprf.key) are read from there.")]
Lender = Annotated[str, typer.Option("--lender", help="Your lender id (as registered on the supervision chain).")]
LenderKey = Annotated[Path, typer.Option("--key", help="Your private key (the one registered on the supervision chain).")]
REGULATOR_ENV = "FIVECHAINS_CREDIT_TOKEN"
OPERATOR_ENV = "FIVECHAINS_CREDIT_OPERATOR_TOKEN"
RegulatorToken = Annotated[Optional[str], token_option(REGULATOR_ENV, "The credit chain's regulator token")]
OperatorToken = Annotated[Optional[str], token_option(OPERATOR_ENV, "The bureau operator's token")]
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _credit_dir(data_dir: Path | None) -> Path | None:
    if data_dir is None:
        return None
    found = locate(data_dir, "credit") or locate(data_dir, "credit", database=False)
    if found is None:
        raise fail(f"no credit chain in {data_dir} (expected credit.db or signer.key there or in {data_dir / 'credit'})")
    return found


def _token_client(ctx: typer.Context, server: str, token: str | None, token_file: Path | None, data_dir: Path | None, *,
                  envvar: str, file_name: str, who: str):  # type: ignore[no-untyped-def]
    from credit_chain.client import CreditClient

    given = resolve_token(ctx, token, token_file, envvar)
    folder = _credit_dir(data_dir)
    if given is None and folder is not None:
        try:
            given = (folder / file_name).read_text().strip()
        except OSError as exc:
            raise fail(f"cannot read {folder / file_name}: {exc.strerror}") from None
    if not given:
        raise fail(f"the {who}'s token is needed: --token-file FILE, {envvar}, or --data-dir of the credit chain ({file_name})")
    return CreditClient(server, token=given)


def _regulator_client(ctx: typer.Context, server: str, token: str | None, token_file: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from credit_chain.config import TOKEN_FILE

    return _token_client(ctx, server, token, token_file, data_dir, envvar=REGULATOR_ENV, file_name=TOKEN_FILE, who="regulator")


def _operator_client(ctx: typer.Context, server: str, token: str | None, token_file: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from credit_chain.config import OPERATOR_TOKEN_FILE

    return _token_client(ctx, server, token, token_file, data_dir, envvar=OPERATOR_ENV, file_name=OPERATOR_TOKEN_FILE, who="bureau operator")


def _lender_client(server: str, lender: str, key: Path):  # type: ignore[no-untyped-def]
    from chain.keys import load_private_key
    from credit_chain.client import CreditClient

    try:
        return CreditClient(server, lender_id=lender, key=load_private_key(key))
    except (ChainError, OSError, ValueError) as exc:
        raise fail(f"cannot read the key {key}: {exc}") from None


def _call(fn, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    from credit_chain.client import CreditError
    from evidence.oprf import OprfError

    try:
        return fn(*args, **kwargs)
    except CreditError as exc:
        raise fail(f"the credit chain refused: {exc.status} {exc.detail}", 1) from None
    except OprfError as exc:
        raise fail(f"the bureau's answer does not verify against its published OPRF key: {exc}", 1) from None
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach the credit chain: {exc.__class__.__name__}: {exc}") from None


def _masked(value: str) -> str:
    """An identifier as people may see it on screen: region and check character kept, the rest hidden."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def _parse_ids(values: list[tuple[str, str]]) -> list[Any]:
    """Identifiers checked (``values``: where each came from, the text); every wrong one is named, none is repeated."""
    from evidence.borrower_ids import BorrowerIdError, parse_borrower_id

    parsed, problems = [], []
    for where, text in values:
        try:
            parsed.append(parse_borrower_id(text))
        except BorrowerIdError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        shown = problems[:20] + ([f"… and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise fail("not a valid identifier (nothing was sent to the bureau):\n  " + "\n  ".join(shown))
    return parsed


def _yuan(fen: int | None) -> str:
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def _when(time_ms: int | None) -> str:
    """A time in Beijing time, as the bureau's dates are."""
    import datetime as dt

    if time_ms is None:
        return "—"
    return dt.datetime.fromtimestamp(time_ms / 1000, dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


def _short(pseudonym: str) -> str:
    return pseudonym[:12] + "…" if len(pseudonym) > 12 else pseudonym


# --- the lender's side ---------------------------------------------------------------------------

@credit_app.command("pseudonym")
def pseudonym_cmd(
    ids: Annotated[Optional[list[str]], typer.Argument(help="Resident ID numbers (公民身份号码) or unified social credit codes (统一社会信用代码).",
                                                       show_default=False)] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="Read identifiers from this file, one per line (blank lines skipped).")] = None,
    lender: Lender = ..., key: LenderKey = ..., server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Compute borrowers' pseudonyms (化名) through the bureau's OPRF, blinded: the bureau never sees an identifier.

    Every identifier's check character is verified first (a mistyped one would be another, unlinkable borrower), and the bureau's proof is checked.

    The pseudonym is what a report's `borrower` field and `credit check` take. Evaluations are counted per lender and day on the credit chain."""
    values = [(f"argument {n}", text) for n, text in enumerate(ids or [], start=1)]
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read {file}: {exc}") from None
        values += [(f"{file} line {n}", line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not values:
        raise fail("give identifiers as arguments or --file FILE (one per line)")
    parsed = _parse_ids(values)
    with _lender_client(server, lender, key) as client, \
            progress_bar("computing pseudonyms", len(parsed), enabled=file is not None and not json_out) as update:
        names = _call(client.pseudonyms, parsed, update)
    if json_out:
        emit_json({"pseudonyms": names, "count": len(names)})
        return
    from rich.table import Table

    table = Table("#", "identifier 证件号码", "pseudonym 化名", title=f"pseudonyms 化名 ({len(names)})")
    for n, (bid, name) in enumerate(zip(parsed, names), start=1):
        table.add_row(str(n), _masked(bid.value), name)
    console.print(table)


def _borrower_pseudonym(client: Any, borrower: str) -> str:
    """A pseudonym as given, or computed from an identifier through the bureau (checked first)."""
    if _HEX64.fullmatch(borrower):
        return borrower
    return _call(client.pseudonyms, _parse_ids([("BORROWER", borrower)]))[0]


def _print_check(answer: dict[str, Any], borrower: str) -> None:
    from rich.table import Table

    mh, worst, q = answer["multi_head"], answer["worst_current_overdue"], answer["queries_by_other_lenders"]
    flag = "[bold red]是 YES[/] — multi-head borrower 多头借贷" if mh["flag"] else "[green]否 no[/]"
    table = Table("item 项目", "answer 结果", title=f"multi-head check 多头借贷查询 · borrower {_short(borrower)}", show_lines=False)
    table.add_row("其他机构未结清贷款 other lenders with open loans", f"{answer['other_lenders_with_open_loans']} "
                  f"({answer['open_loans_elsewhere']} loans 笔)")
    table.add_row("未结清本金 outstanding principal elsewhere", f"{_yuan(answer['outstanding_principal_fen'])}  (band 区间 {answer['outstanding_band']})")
    table.add_row("当前最长逾期 worst current overdue", f"{worst['days_past_due']} days 天 ({worst['status']})")
    table.add_row("其他机构查询 queries by other lenders", " · ".join(f"{k.removesuffix('d')} days 天: {v}" for k, v in q.items()))
    table.add_row("多头借贷 multi-head flag", f"{flag}  ({mh['other_lenders_in_window']} other lenders in the window)")
    table.add_row("规则 rule", f"{mh['rule']} (rules {answer['rules']['version']}, sha256 {answer['rules']['sha256'][:16]}…)")
    table.add_row("异议中的记录 disputed records", str(answer["disputed_records"]))
    query = answer.get("query") or {}
    table.add_row("查询回执 query receipt", f"credit entry {query.get('index')} · {_when(query.get('time_ms'))} · consent 授权 "
                  f"{query.get('consent_code')} · document sha256 {str(query.get('document_sha256'))[:16]}…")
    console.print(table)
    summary = answer.get("enterprise_summary")
    if summary:
        _print_enterprise(summary)


def _print_enterprise(summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("factor 因素", "value 数值", "detail 说明", "points 分值",
                  title=f"enterprise credit summary 企业信用 · score 分数 {summary['score']} (base {summary['base']})")
    for f in summary["factors"]:
        table.add_row(f["label"], str(f["value"]), f["detail"], str(f["points"]))
    console.print(table)


@credit_app.command("check")
def check(
    borrower: Annotated[str, typer.Argument(help="The applicant's pseudonym (64 hex), or their ID number / credit code (then computed first).")],
    consent: Annotated[str, typer.Option("--consent", help="The deposit code of the applicant's consent, deposited by you on the supervision chain.")],
    purpose: Annotated[str, typer.Option("--purpose", help="The purpose, exactly as the consent states it.")],
    lender: Lender, key: LenderKey, server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Multi-head borrowing check (多头借贷查询) of one applicant, with the applicant's anchored consent.

    Counts only, other lenders never named: lenders with open loans, outstanding (exact and banded), worst overdue, queries in 30/90 days, the multi-head flag and rule, disputes.

    The query is recorded on the credit chain and the borrower sees it in their report. Without a valid consent (yours, this borrower, this purpose, in date) it is refused: exit 1."""
    from credit_chain.client import CreditError

    with _lender_client(server, lender, key) as client:
        name = _borrower_pseudonym(client, borrower)
        try:
            answer = client.check(name, consent, purpose)
        except CreditError as exc:
            if exc.status == 403:
                raise fail(f"the check is refused (403): {exc.detail}", 1) from None
            raise fail(f"the credit chain refused: {exc.status} {exc.detail}", 1) from None
        except httpx.HTTPError as exc:
            raise fail(f"cannot reach the credit chain: {exc.__class__.__name__}: {exc}") from None
    if json_out:
        emit_json({"borrower": name, **answer})
    else:
        _print_check(answer, name)


def _print_disputes(rows: list[dict[str, Any]], title: str) -> None:
    from rich.table import Table

    table = Table("dispute 异议", "borrower 借款人", "lender 机构", "target 对象", "reason 理由", "due 期限", "state 状态",
                  "outcome 结果", title=title)
    for d in rows:
        target = f"{d['target']} {d['target_ref']}"
        outcome = f"{d['outcome']}: {d['answer']}" if d.get("outcome") else "—"
        state = d["state"] + (" [red](past due 逾期)[/]" if d["state"] == "late" else "")
        table.add_row(d["id"], _short(d["borrower"]), d["lender_id"], target, d["reason"], d["due"], state, outcome)
    console.print(table)


@credit_app.command("disputes")
def disputes(lender: Lender, key: LenderKey, server: Server = DEFAULT_SERVER, json_out: JsonOut = False) -> None:
    """The disputes (异议) filed against your records, to answer by their deadline with `credit answer` (a signed read)."""
    with _lender_client(server, lender, key) as client:
        rows = _call(client.disputes)
    if json_out:
        emit_json({"disputes": rows})
    else:
        _print_disputes(rows, f"disputes to answer 待处理异议 · {lender}")


@credit_app.command("answer")
def answer(
    dispute_id: Annotated[str, typer.Argument(help="The dispute's id (D-…), from `credit disputes`.")],
    outcome: Annotated[str, typer.Option("--outcome", help="corrected (you corrected your record) or upheld (it stands).")],
    reasons: Annotated[str, typer.Option("--reasons", help="Why (1–4000 characters); the borrower sees it in their report.")],
    lender: Lender, key: LenderKey, server: Server = DEFAULT_SERVER, json_out: JsonOut = False,
) -> None:
    """Answer a dispute filed against your record, signed with your key: corrected or upheld, with reasons."""
    from credit_chain.disputes import OUTCOMES

    if outcome not in OUTCOMES:
        raise fail(f"--outcome must be one of {', '.join(OUTCOMES)}")
    with _lender_client(server, lender, key) as client:
        view = _call(client.answer, dispute_id, outcome, reasons)
    if json_out:
        emit_json(view)
    else:
        late = " [yellow](after the deadline: that stays recorded)[/]" if view.get("late") else ""
        console.print(f"{dispute_id}: answered [bold]{view['outcome']}[/], recorded as credit entry {view['index']}{late}")


# --- the bureau's operator -----------------------------------------------------------------------

def _local_pseudonym(data_dir: Path | None, identifier: str) -> str:
    """The pseudonym of an identifier computed with the bureau's own OPRF key (the operator's desk only)."""
    from credit_chain.config import OPRF_KEY_FILE
    from evidence import oprf
    from evidence.borrower_ids import oprf_input, pseudonym

    folder = _credit_dir(data_dir)
    if folder is None:
        raise fail(f"an ID number needs --data-dir of the credit chain (the bureau's {OPRF_KEY_FILE}); or give the pseudonym")
    bid = _parse_ids([("the ID", identifier)])[0]
    try:
        key = oprf.ServerKey.from_secret(bytes.fromhex((folder / OPRF_KEY_FILE).read_text().strip()))
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read the bureau's OPRF key {folder / OPRF_KEY_FILE}: {exc}") from None
    return pseudonym(oprf.evaluate(key, oprf_input(bid), oprf.MODE_VOPRF))


def _operator_borrower(data_dir: Path | None, borrower: str) -> str:
    return borrower if _HEX64.fullmatch(borrower) else _local_pseudonym(data_dir, borrower)


@credit_app.command("dispute")
def dispute(
    ctx: typer.Context,
    borrower: Annotated[str, typer.Argument(help="The borrower's pseudonym, or their ID number / credit code (needs --data-dir).")],
    target: Annotated[str, typer.Option("--target", help="loan (a loan record) or query (a query of the borrower's record).")],
    lender_id: Annotated[str, typer.Option("--lender-id", help="The lender whose record is disputed.")],
    ref: Annotated[str, typer.Option("--ref", help="The loan id, or the query's credit entry index (from the borrower's report).")],
    reason: Annotated[str, typer.Option("--reason", help="The borrower's reason (1–4000 characters).")],
    server: Server = DEFAULT_SERVER, token: OperatorToken = None, token_file: TokenFile = None, data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """File a borrower's dispute (异议) of one loan record or one query (the bureau's operator).

    The lender must answer within the rule file's deadline; until it does, the record shows as disputed in every check and report."""
    from credit_chain.disputes import TARGETS

    if target not in TARGETS:
        raise fail(f"--target must be one of {', '.join(TARGETS)}")
    name = _operator_borrower(data_dir, borrower)
    with _operator_client(ctx, server, token, token_file, data_dir) as client:
        view = _call(client.open_dispute, name, target, lender_id, ref, reason)
    if json_out:
        emit_json(view)
    else:
        console.print(f"dispute [bold]{view['id']}[/] filed (credit entry {view['index']}): {lender_id} must answer by {view['due']}")


def _print_report(report: dict[str, Any], problems: list[str]) -> None:
    from rich.table import Table

    console.print(f"[bold]信用报告 credit report[/] · {report['bureau']} · borrower 借款人 {report['borrower']}")
    console.print(f"issued 出具 {_when(report['issued_ms'])} (Beijing time) · chain {report['chain_id']} · "
                  f"rules {report['rules']['version']}")
    loans = Table("lender 机构", "loan 贷款", "opened 发放", "principal 本金", "outstanding 余额", "status 状态", "worst overdue 最长逾期",
                  "disputed 异议", title=f"loans 贷款 ({len(report['loans'])})")
    for x in report["loans"]:
        closed = f" closed {_when(x['closed_ms'])[:10]}" if x["closed_ms"] is not None else ""
        loans.add_row(f"{x['lender_id']} {x['lender_name']}", x["loan_id"], _when(x["opened_ms"])[:10], _yuan(x["principal_fen"]),
                      _yuan(x["outstanding_fen"]), x["status"] + closed, f"{x['worst_days_past_due']} days 天",
                      "[red]yes 是[/]" if x["disputed"] else "—")
    console.print(loans)
    queries = Table("entry 条目", "lender 机构", "time 时间", "purpose 用途", "consent 授权码", "disputed 异议",
                    title=f"queries 查询记录 ({len(report['queries'])})")
    for q in report["queries"]:
        queries.add_row(str(q["index"]), f"{q['lender_id']} {q['lender_name']}", _when(q["time_ms"]), q["purpose"], q["consent_code"],
                        "[red]yes 是[/]" if q["disputed"] else "—")
    console.print(queries)
    if report["disputes"]:
        _print_disputes(report["disputes"], f"disputes 异议 ({len(report['disputes'])})")
    else:
        console.print("disputes 异议: none 无")
    if report.get("enterprise_summary"):
        _print_enterprise(report["enterprise_summary"])
    _print_verification(report, problems)


def _checkpoint_size(report: dict[str, Any]) -> int | None:
    from chain.checkpoint import parse_checkpoint
    from chain.note import parse_note

    try:
        return parse_checkpoint(parse_note(report["checkpoint"]).text).size
    except Exception:  # shown only; verify_report has judged it already
        return None


def _print_verification(report: dict[str, Any], problems: list[str], pinned: str | None = None) -> None:
    if problems:
        console.print("[bold red]✗ the report does not verify[/] 报告验证失败:")
        for p in problems:
            console.print(f"  [red]•[/] {p}", soft_wrap=True)
        return
    n = len(report.get("entries", []))
    key = pinned or "the key the report carries (pin the bureau's key with --vkey or --server)"
    console.print(f"[green]✓ verified 已验证[/]: the bureau's complete record of this borrower — {n} entries numbered 1..{n}, each opened by "
                  f"its document and included in the checkpoint of size {_checkpoint_size(report)} signed by {key}; "
                  f"loans {len(report.get('loans', []))}, queries {len(report.get('queries', []))}, disputes {len(report.get('disputes', []))}, "
                  "every line backed by an entry",
                  soft_wrap=True)


def _verify(report: Any, vkey: str | None) -> list[str]:
    from credit_chain.borrower_report import verify_report

    if not isinstance(report, dict):
        return ["not a credit report (not a JSON object)"]
    try:
        return verify_report(report, vkey)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"the report is malformed: {exc.__class__.__name__}: {exc}"]


@credit_app.command("report")
def report_cmd(
    ctx: typer.Context,
    borrower: Annotated[Optional[str], typer.Option("--borrower", help="The borrower's pseudonym (64 hex).")] = None,
    identifier: Annotated[Optional[str], typer.Option("--id", help="Or the borrower's ID number / credit code (pseudonym computed with the "
                                                                    "bureau's key in --data-dir).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the report (JSON, with its proof) here: give it to the borrower; "
                                                              "`credit verify-report` checks it offline.")] = None,
    server: Server = DEFAULT_SERVER, token: OperatorToken = None, token_file: TokenFile = None, data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """A borrower's own credit report (信用报告), for the bureau's operator, with the proof that it is the whole record.

    Loans by lender, every query (lender, time, purpose, consent code), disputes, and the verification (done here too: exit 1 if it fails).

    --json prints the report document itself, as --out writes it."""
    from credit_chain.borrower_report import report_json

    if (borrower is None) == (identifier is None):
        raise fail("give exactly one of --borrower PSEUDONYM or --id ID")
    if borrower is not None and not _HEX64.fullmatch(borrower):
        raise fail("--borrower must be a pseudonym (64 lowercase hex); for an ID number use --id")
    name = borrower or _local_pseudonym(data_dir, identifier or "")
    with _operator_client(ctx, server, token, token_file, data_dir) as client:
        report = _call(client.report, name)
    problems = _verify(report, None)
    if out is not None:
        try:
            out.write_text(report_json(report) + "\n", encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {out}: {exc.strerror}") from None
    if json_out:
        emit_json(report)
        if problems:
            raise fail("the report does not verify: " + "; ".join(problems), 1)
        return
    _print_report(report, problems)
    if out is not None:
        console.print(f"wrote {out}")
    if problems:
        raise typer.Exit(1)


@credit_app.command("verify-report")
def verify_report_cmd(
    file: Annotated[Path, typer.Argument(help="A report written by `credit report --out`.")],
    vkey: Annotated[Optional[str], typer.Option("--vkey", help="The credit chain's verifier key (NAME+ID+KEY), or a file holding it.")] = None,
    server: Annotated[Optional[str], typer.Option("--server", help="Or read the verifier key from this credit chain's /v1/chain.")] = None,
    json_out: JsonOut = False,
) -> None:
    """Check a borrower's credit report offline, with public keys only; exit 1 with the problems listed when anything fails.

    Every document opens its entry, every entry is in the signed checkpoint, the entries run 1..n as the bureau's signed report entry says, every loan and query is backed by one.

    Pin the bureau's key with --vkey or --server; without either, the key the report carries is used (that proves consistency, not origin)."""
    import json

    if vkey and server:
        raise fail("give --vkey or --server, not both")
    pinned = None
    if vkey:
        candidate = Path(vkey)
        try:
            vkey = candidate.read_text(encoding="utf-8").strip() if candidate.is_file() else vkey.strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read the key file {candidate}: {exc}") from None
        pinned = "the key given with --vkey"
    elif server:
        try:
            vkey = httpx.get(server.rstrip("/") + "/v1/chain", timeout=30).raise_for_status().json()["vkey"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise fail(f"cannot read the verifier key from {server}/v1/chain: {exc.__class__.__name__}: {exc}") from None
        pinned = f"the key of {server}"
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise fail(f"{file} is not JSON ({exc.msg}, line {exc.lineno})", 1) from None
    problems = _verify(report, vkey)
    if json_out:
        ok = not problems
        emit_json({"ok": ok, "problems": problems, "borrower": report.get("borrower") if isinstance(report, dict) else None,
                   "entries": len(report.get("entries", [])) if ok else None, "checkpoint_size": _checkpoint_size(report) if ok else None,
                   "key": "pinned" if pinned else "carried by the report"})
    else:
        _print_verification(report, problems, pinned)
    if problems:
        raise typer.Exit(1)


# --- the regulator -------------------------------------------------------------------------------

@credit_app.command("evaluations")
def evaluations(ctx: typer.Context, server: Server = DEFAULT_SERVER, token: RegulatorToken = None, token_file: TokenFile = None,
                data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Pseudonym evaluations per lender beside its reported loans, consents and queries (regulator).

    A lender evaluating far more identifiers than it lends to is mapping people, and shows here."""
    with _regulator_client(ctx, server, token, token_file, data_dir) as client:
        rows = _call(client.evaluations)
    if json_out:
        emit_json({"lenders": rows})
        return
    from rich.table import Table

    table = Table("lender 机构", "evaluations 化名计算", "loans reported 报送贷款", "consents 授权", "queries 查询", "per loan 每笔贷款",
                  title="pseudonym evaluations 化名计算次数")
    for r in rows:
        per = "—" if r["evaluations_per_loan"] is None else f"{r['evaluations_per_loan']:g}"
        table.add_row(f"{r['lender_id']} {r['name']}", f"{r['evaluations']:,}", f"{r['loans_reported']:,}", f"{r['consents']:,}",
                      f"{r['queries']:,}", per)
    console.print(table)


@credit_app.command("shares")
def shares(ctx: typer.Context, server: Server = DEFAULT_SERVER, token: RegulatorToken = None, token_file: TokenFile = None,
           data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Per lender: the share of its borrowers (open loans) who are multi-head borrowers by the bureau's rule (regulator).

    The same figure the risk chain reads as its multihead_share indicator."""
    with _regulator_client(ctx, server, token, token_file, data_dir) as client:
        view = _call(client.multihead_shares)
    if json_out:
        emit_json(view)
        return
    from rich.table import Table

    rule = view["rule"]
    table = Table("lender 机构", "borrowers 借款人", "multi-head 多头", "share 占比",
                  title=f"multi-head shares 多头借贷占比 (≥ {rule['other_lenders_at_least']} other lenders in {rule['window_days']} days)")
    for r in view["lenders"]:
        table.add_row(r["lender_id"], f"{r['borrowers']:,}", f"{r['multi_head_borrowers']:,}", f"{r['share']:.1%}")
    console.print(table)


__all__ = ["credit_app", "build_credit_chain"]
