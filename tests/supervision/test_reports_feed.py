"""Typed reports on deposits and the regulator's feed of them, through real servers.

An item may carry the typed report of its record type: it is signed and committed with the item
(``report`` is the last key of the item's canonical JSON; items without one keep their bytes), checked
by ``parse_report`` on either decoding path (a wrong field is a 422 naming ``items[i].report.<field>``,
nothing stored), kept as its canonical text, and served to the regulator in ledger order, sealed
deposits only, with the fields that recompute the public commitment.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chain.keys import public_key_bytes
from chain.sm2 import SM2PrivateKey
from evidence.canonical_json import canonical_json
from evidence.loan_reports import parse_report, report_json
from evidence.supervision_entry import parse_supervision_entry
from supervision_chain.api.fast_body import decode_deposit
from supervision_chain.api.routes.feed import reports_page
from supervision_chain.api.schemas import DepositRequestIn
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.records import Item, digest_bytes, encoded_item, encoded_items, item_bytes, new_item_salt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from servers import SupervisionServer  # noqa: E402

from .test_lender_cli import fc  # noqa: E402
from .test_postgres_workers import _register as register_l1  # noqa: E402  (L1, on SQLite too with no URL)

ROOT = Path(__file__).resolve().parents[2]
BORROWER = "ab" * 32
REPORTS: dict[str, dict[str, Any]] = {
    "contract": {"principal": 20000, "rate_bp": 1500, "term_months": 2, "borrower_kind": "person", "borrower": BORROWER,
                 "schedule": [{"date": "2026-02-01", "amount": 10500}, {"date": "2026-03-01", "amount": 10500}]},
    "disbursement": {"amount": 20000, "date": "2026-01-02"},
    "repayment": {"amount": 10500, "date": "2026-02-01", "principal": 10000, "interest": 500},
    "overdue": {"days_past_due": 31, "amount_overdue": 10500},
    "collection": {"channel": "sms", "time_ms": 1769904000000},
    "consent": {"borrower": BORROWER, "purpose": "贷款审批 credit check", "valid_from": "2026-01-01", "valid_to": "2026-12-31"},
}


def now_ms() -> int:
    return int(time.time() * 1000)


def digest(n: int | str) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def feed(server: SupervisionServer, path: str = "/v1/feed/reports", authorization: str | None = "", **params: Any) -> httpx.Response:
    """A regulator's read (``authorization``: the header as sent; by default the chain's regulator token)."""
    headers = {} if authorization is None else {"Authorization": authorization or f"Bearer {server.token}"}
    return httpx.get(server.url + path, params=params, headers=headers, timeout=30)


def wait_sealed(server: SupervisionServer, size: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded
        sealed = httpx.get(server.url + "/v1/chain").json()["sealed_size"]
        if sealed >= size:
            return sealed
        time.sleep(0.05)
    raise AssertionError(f"not sealed up to {size} within {timeout} s")


def public_entries(server: SupervisionServer, end: int) -> dict[int, Any]:
    out = {}
    for start in range(0, end, 1000):
        rows = httpx.get(server.url + "/v1/entries", params={"start": start, "end": min(end, start + 1000)}).json()["entries"]
        out.update({e["index"]: parse_supervision_entry(e["data"].encode()) for e in rows})
    return out


def item_json(row: dict[str, Any]) -> bytes:
    """What a reader of the feed recomputes: the item's canonical JSON (docs/protocol.md §2), with rfc8785 alone."""
    fields = {k: row[k] for k in ("commitment_salt", "digest", "event_time_ms", "loan_id", "record_type", "report")}
    if "metadata" in row:
        fields["metadata"] = row["metadata"]
    return rfc8785.dumps(fields)


# --- the item's canonical form -----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=5) | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8)
objects = st.dictionaries(st.text(max_size=4), json_values, max_size=4)


@settings(max_examples=400, deadline=None)
@given(loan_id=st.one_of(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,20}", fullmatch=True), st.text(max_size=10)),
       record_type=st.sampled_from(["repayment", "consent", "other", 'x"y', "é"]), metadata=st.none() | objects,
       report=st.none() | objects | st.sampled_from(list(REPORTS.values())), event=st.integers(0, 2**53 - 1))
def test_an_item_with_or_without_report_is_exactly_rfc8785(loan_id: str, record_type: str, metadata: Any, report: Any, event: int) -> None:
    item = Item(digest(loan_id), record_type, loan_id, event, new_item_salt(), metadata, report)
    fields: dict[str, Any] = {"commitment_salt": item.commitment_salt, "digest": item.digest, "event_time_ms": event,
                              "loan_id": loan_id, "record_type": record_type}
    if metadata is not None:
        fields["metadata"] = metadata
    if report is not None:
        fields["report"] = report
    data, metadata_text = encoded_item(item)
    assert data == rfc8785.dumps(fields) == item_bytes(item)
    assert metadata_text == (None if metadata is None else rfc8785.dumps(metadata).decode())
    plain = Item(digest(1), "repayment", "loan-1", 7, new_item_salt())
    with_report = Item(digest(2), "repayment", "loan-2", 8, new_item_salt(), None, REPORTS["repayment"])
    batch = [item, plain, with_report]
    assert encoded_items(batch) == [encoded_item(i) for i in batch]  # the whole-request form, plain or not
    spliced = [None if i.report is None else canonical_json(i.report) for i in batch]
    assert encoded_items(batch, spliced) == [encoded_item(i) for i in batch]  # the server splices report_json's bytes


def test_items_without_report_keep_their_bytes_and_a_report_sorts_last() -> None:
    vector = json.loads((ROOT / "docs" / "vectors" / "deposit-request.json").read_text(encoding="utf-8"))
    for wire, stated in zip(vector["body"]["items"], vector["items"], strict=True):
        item = Item(wire["digest"], wire["record_type"], wire["loan_id"], wire["event_time_ms"], wire["commitment_salt"], wire.get("metadata"))
        assert item_bytes(item).hex() == stated["canonical_hex"]
    withr = vector["item_with_report"]
    assert item_bytes(Item(**withr["item"])).decode() == withr["canonical_utf8"] == rfc8785.dumps(withr["item"]).decode()
    assert withr["canonical_utf8"].endswith(',"report":' + withr["report_canonical_utf8"] + "}")
    assert hashlib.sha256(withr["canonical_utf8"].encode()).hexdigest() == withr["commitment_hex"]


@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_the_stored_report_text_is_the_committed_form(kind: str) -> None:
    assert report_json(parse_report(kind, REPORTS[kind])) == rfc8785.dumps(REPORTS[kind])


def _body(**changes: Any) -> bytes:
    item = {"digest": digest(1), "record_type": "repayment", "loan_id": "loan-1", "event_time_ms": 5, "commitment_salt": "cd" * 32, **changes}
    return json.dumps({"lender_id": "L1", "nonce": "n-1", "timestamp_ms": 7, "items": [item], "signature": "AAAA"}).encode()


def test_both_decoders_take_a_report_as_an_object_and_consent_as_a_record_type() -> None:
    for body in (_body(report=REPORTS["repayment"]), _body(record_type="consent", report=REPORTS["consent"]), _body(report=None)):
        fast, slow = decode_deposit(body), DepositRequestIn.model_validate_json(body)
        assert fast is not None and fast.items[0].report == slow.items[0].report and fast.items[0].record_type == slow.items[0].record_type
    for body in (_body(report=[1]), _body(report="x"), _body(report=5)):
        assert decode_deposit(body) is None
        with pytest.raises(ValidationError):
            DepositRequestIn.model_validate_json(body)


def test_the_page_is_the_same_json_with_plain_strings_or_not() -> None:
    rows = [(3, "L1", "repayment", "loan-1", 5, 9, digest(1), "cd" * 32, None, report_json(parse_report("repayment", REPORTS["repayment"])).decode(), None),
            (4, "L1", "consent", "loan-2", 6, 9, digest(2), "ef" * 32, '{"k":"天河"}', report_json(parse_report("consent", REPORTS["consent"])).decode(), None)]
    odd = [rows[0], (5, 'L"2', "overdue", "loan\\3", 7, 9, digest(3), "01" * 32, None, '{"amount_overdue":1,"days_past_due":1}', None)]
    for page in (rows, odd):
        answer = json.loads(reports_page(page, 10, 10, 0))
        assert answer["sealed_size"] == 10 and answer["next"] == 10
        assert [(r["index"], r["lender_id"], r["loan_id"], r.get("metadata"), r["report"]) for r in answer["reports"]] == \
               [(r[0], r[1], r[3], None if r[8] is None else json.loads(r[8]), json.loads(r[9])) for r in page]


def test_migrations_0005_and_0006_keep_deposits_and_add_the_report_column_and_the_consent_code_index(tmp_path: Path) -> None:
    from sqlalchemy import inspect, text

    from chain_sql import open_store
    from chain_sql.migrations import upgrade_schema
    from supervision_chain.models import MIGRATIONS

    store = open_store(f"sqlite:///{tmp_path / 'supervision.db'}")
    try:
        assert upgrade_schema(store, MIGRATIONS, target="0004") == (None, "0004")
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO sv_deposit (idx, lender_id, request_first, digest, record_type, loan_id, event_time_ms, "
                              "deposit_time_ms, delay_ms, commitment_salt) VALUES (0, 'L1', 0, 'ab', 'contract', 'loan-1', 5, 9, 4, 'cd')"))
        assert upgrade_schema(store, MIGRATIONS, target="0006") == ("0004", "0006")
        assert {"ix_sv_deposit_report", "ix_sv_deposit_consent_code"} <= {i["name"] for i in inspect(store.engine).get_indexes("sv_deposit")}
        with store.engine.connect() as conn:
            assert tuple(conn.execute(text("SELECT loan_id, report FROM sv_deposit")).one()) == ("loan-1", None)
    finally:
        store.close()


# --- through the API ---------------------------------------------------------------------------

def test_every_report_type_is_in_the_feed_with_its_exact_canonical_report(server, lenders, client) -> None:
    t = now_ms() - 1000
    items = [DepositItem(digest(f"r-{kind}"), kind, f"loan-{kind}", t, report=report) for kind, report in REPORTS.items()]
    items += [DepositItem(digest("plain"), "repayment", "loan-plain", t),  # no report: not in the feed
              DepositItem(digest("other"), "other", "loan-other", t, {"note": "x"}),
              DepositItem(digest("meta"), "overdue", "loan-meta", t, {"branch": "天河", "days": 3}, report=REPORTS["overdue"])]
    first = client.deposit(items)["items"]
    with LenderClient(server.url, "L2", lenders["L2"]) as other:
        second = other.deposit([DepositItem(digest("l2"), "disbursement", "loan-l2", t, report=REPORTS["disbursement"])])["items"]
    total = len(items) + 1
    sealed = wait_sealed(server, total)
    answer = feed(server)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    page = answer.json()
    assert page["sealed_size"] == sealed and page["next"] == sealed
    rows = page["reports"]
    expected = [i for i in range(total) if i not in (first[6]["index"], first[7]["index"])]
    assert [r["index"] for r in rows] == expected
    by_loan = {r["loan_id"]: r for r in rows}
    for kind, report in REPORTS.items():
        row = by_loan[f"loan-{kind}"]
        assert (row["record_type"], row["lender_id"], row["report"]) == (kind, "L1", report)
        assert report_json(parse_report(kind, report)).decode() in answer.text  # the canonical text, spliced as stored
        assert "metadata" not in row
    assert by_loan["loan-meta"]["metadata"] == {"branch": "天河", "days": 3}
    assert by_loan["loan-l2"]["lender_id"] == "L2" and by_loan["loan-l2"]["index"] == second[0]["index"]
    entries = public_entries(server, sealed)
    for row in rows:  # a reader recomputes every commitment from the feed and checks it against the public entry
        entry = entries[row["index"]]
        assert hashlib.sha256(item_json(row)).hexdigest() == entry.commitment
        assert (entry.digest, entry.lender_id, entry.record_type, entry.event_time_ms, entry.deposit_time_ms) == \
               (row["digest"], row["lender_id"], row["record_type"], row["event_time_ms"], row["deposit_time_ms"])
        assert set(row) <= {"index", "lender_id", "record_type", "loan_id", "event_time_ms", "deposit_time_ms", "digest",
                            "commitment_salt", "deposit_code", "metadata", "report"}


BAD = [  # (record type, report, detail expected for an item at index 1)
    ("contract", dict(REPORTS["contract"], principal="20000"), "items[1].report.principal: must be an integer"),
    ("repayment", {k: v for k, v in REPORTS["repayment"].items() if k != "interest"}, "items[1].report.interest: missing field"),
    ("collection", dict(REPORTS["collection"], colour="red"), "items[1].report.colour: unknown field"),
    ("contract", dict(REPORTS["contract"], schedule=[{"date": "2026-02-31", "amount": 21000}]), "items[1].report.schedule[0].date: must be a date"),
    ("repayment", dict(REPORTS["repayment"], amount=1), "items[1].report.amount: must equal principal + interest"),
    ("disbursement", REPORTS["repayment"], "items[1].report.interest: unknown field"),  # another type's report
    ("other", {"amount": 1}, "items[1].report: no report for record type 'other'"),
    ("consent", None, "items[1].report: missing field"),
]


@pytest.mark.parametrize("lax", [False, True], ids=["fast-path", "pydantic-path"])
def test_bad_reports_are_refused_naming_the_field_and_nothing_is_stored(server, client, lax: bool) -> None:
    t = now_ms() - 1000
    for n, (kind, report, detail) in enumerate(BAD):
        body = client.signed_request([DepositItem(digest(f"good-{n}"), "repayment", "loan-good", t, report=REPORTS["repayment"]),
                                      DepositItem(digest(f"bad-{n}"), kind, f"loan-bad-{n}", t, report=report)])
        if lax:  # Pydantic (lax) takes a number as a string: the fast decoder refuses the body, the schema decides, then the chain
            body["items"][0]["event_time_ms"] = str(body["items"][0]["event_time_ms"])
            assert decode_deposit(json.dumps(body).encode()) is None
        answer = httpx.post(server.url + "/v1/deposits", json=body, timeout=30)
        assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/problem+json"), answer.text
        problem = answer.json()
        assert problem["type"].endswith("/invalid-input") and problem["detail"].startswith(detail), (problem, detail)
    good = client.deposit([DepositItem(digest("after"), "consent", "loan-after", t, report=REPORTS["consent"])])
    assert good["items"][0]["index"] == 0  # every refused request stored nothing
    wait_sealed(server, 1)
    assert [r["loan_id"] for r in feed(server).json()["reports"]] == ["loan-after"]


def test_the_feed_needs_the_regulator_token_and_bounds_its_pages(server, lenders) -> None:
    for path in ("/v1/feed/reports", "/v1/feed/lenders"):
        for authorization in (None, "Bearer wrong-token", f"Basic {server.token}", f"Bearer {server.token}x"):
            refused = feed(server, path, authorization=authorization)
            assert refused.status_code == 401 and refused.headers["content-type"].startswith("application/problem+json"), path
    for params in ({"limit": 10_001}, {"limit": 0}, {"start": -1}, {"limit": "many"}):
        refused = feed(server, **params)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json"), params
    assert feed(server, limit=10_000).json() == {"sealed_size": 0, "anchored_size": 0, "next": 0, "reports": []}


def test_the_lenders_feed_names_every_key(server, lenders) -> None:
    sm2 = SM2PrivateKey.generate()
    raw_sm2 = public_key_bytes(sm2.public_key())
    added = httpx.post(server.url + "/v1/admin/lenders", headers={"Authorization": f"Bearer {server.token}"},
                       json={"id": "S1", "name": "SM2 Lending", "licence": "GZ-S1", "public_key": base64.b64encode(raw_sm2).decode()})
    assert added.status_code == 201
    answer = feed(server, "/v1/feed/lenders")
    assert answer.status_code == 200
    rows = {r["id"]: r for r in answer.json()["lenders"]}
    assert set(rows) == {"L1", "L2", "S1"}
    assert base64.b64decode(rows["L1"]["public_key"]) == public_key_bytes(lenders["L1"].public_key()) and rows["L1"]["key_type"] == "ed25519"
    assert base64.b64decode(rows["S1"]["public_key"]) == raw_sm2 and rows["S1"]["key_type"] == "sm2"
    assert all(r["enabled"] is True and {"id", "name", "licence", "public_key", "key_type", "enabled"} <= set(r) for r in rows.values())
    admin = httpx.get(server.url + "/v1/admin/lenders", headers={"Authorization": f"Bearer {server.token}"}).json()
    assert admin == answer.json()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_paging_with_next_covers_every_sealed_report_once(tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> None:
    """Seals every 1,000 entries (no timer within the test): the last entries stay unsealed and out of the feed."""
    data_dir = tmp_path / "supervision"
    data_dir.mkdir()
    db = ["--db", request.getfixturevalue("pg_url")] if backend == "postgresql" else []
    srv = SupervisionServer(data_dir, *db, "--seal-entries", "1000", "--seal-interval-ms", "600000").start()
    try:
        key = register_l1(data_dir, db[1] if db else None)  # type: ignore[arg-type]
        t = now_ms() - 1000
        with LenderClient(srv.url, "L1", key) as client:
            for batch in range(3):  # 2,600 items, two in three with a report
                client.deposit([DepositItem(digest(f"{batch}-{i}"), "overdue" if i % 3 else "other", f"loan-{batch}-{i}", t,
                                            report={"days_past_due": 1 + i, "amount_overdue": 100 + i} if i % 3 else None)
                                for i in range(1000 if batch < 2 else 600)])
        assert wait_sealed(srv, 2000) == 2000
        expected = [i for i in range(2000) if (i % 1000) % 3]
        seen: list[int] = []
        start = 0
        for _ in range(100):  # bounded: 1,333 reports at 97 a page
            page = feed(srv, start=start, limit=97).json()
            assert page["sealed_size"] == 2000
            seen += [r["index"] for r in page["reports"]]
            assert all(r["report"] == {"days_past_due": 1 + r["index"] % 1000, "amount_overdue": 100 + r["index"] % 1000} for r in page["reports"])
            assert page["next"] == (page["reports"][-1]["index"] + 1 if len(page["reports"]) == 97 else 2000)
            if len(page["reports"]) < 97:
                break
            start = page["next"]
        assert seen == expected  # each once, in ledger order, only sealed ones (2,000..2,599 are not)
        assert [r["index"] for r in feed(srv, start=1990, limit=5).json()["reports"]] == [i for i in expected if i >= 1990][:5]
        assert feed(srv, start=2000).json() == {"sealed_size": 2000, "anchored_size": 0, "next": 2000, "reports": []}
    finally:
        srv.stop()


# --- the lender CLI ---------------------------------------------------------------------------

CSV = ("record_type,loan_id,event_time_ms,principal,rate_bp,term_months,schedule,borrower_kind,borrower,amount,date,interest\n"
       f"contract,L-1,1767225600000,20000,1500,2,2026-02-01:10500;2026-03-01:10500,person,{BORROWER},,,\n"
       "repayment,L-1,1769904000000,10000,,,,,,10500,2026-02-01,500\n")


@pytest.fixture
def key(tmp_path: Path, server) -> Path:
    """Lender L0001's key file, made and registered with the CLI."""
    key = tmp_path / "lender.key"
    fc("keys", "generate", "--out", str(key))
    fc("regulator", "lender", "add", "L0001", "--name", "Yue Xiu Lending", "--licence", "GZ-2026-001", "--pubkey", str(key) + ".pub",
       "--data-dir", str(server.data_dir))
    return key


def test_lender_deposit_takes_jsonl_and_csv_reports(tmp_path: Path, server, key: Path) -> None:
    lines = tmp_path / "reports.jsonl"
    records = [{"loan_id": "L-2", "record_type": "consent", "event_time_ms": 1767225600000, "report": REPORTS["consent"]},
               {"loan_id": "L-2", "record_type": "collection", "event_time_ms": 1767225600001, "report": REPORTS["collection"], "note": "kept"},
               {"loan_id": "L-3", "record_type": "repayment", "amount": 5}]  # a record with no report, as before
    lines.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    sheet = tmp_path / "reports.csv"
    sheet.write_text(CSV, encoding="utf-8")
    out = tmp_path / "receipts.json"
    result = fc("lender", "deposit", str(lines), str(sheet), "--server", server.url, "--lender", "L0001", "--key", str(key),
                "--out", str(out), "--json")
    assert json.loads(result.stdout)["deposited"] == 5
    items = json.loads(out.read_text())["items"]
    csv_items = [i for i in items if i["path"].endswith(".csv")]
    assert [(i["line"], i["record_type"], i["loan_id"], i["event_time_ms"]) for i in csv_items] == \
           [(2, "contract", "L-1", 1767225600000), (3, "repayment", "L-1", 1769904000000)]
    for i in csv_items:  # the digest of the row's canonical JSON record: the .jsonl line it stands for
        record = {"record_type": i["record_type"], "loan_id": i["loan_id"], "event_time_ms": i["event_time_ms"], "report": i["report"]}
        assert i["digest"] == digest_bytes(canonical_json(record), i["salt"])
    assert csv_items[1]["report"] == {"amount": 10500, "date": "2026-02-01", "principal": 10000, "interest": 500}
    jsonl_items = [i for i in items if i["path"].endswith(".jsonl")]
    assert jsonl_items[1]["digest"] == digest_bytes(canonical_json(records[1]), jsonl_items[1]["salt"])
    assert [i.get("report") for i in jsonl_items] == [REPORTS["consent"], REPORTS["collection"], None]
    wait_sealed(server, 5)
    rows = {r["index"]: r for r in feed(server).json()["reports"]}
    assert len(rows) == 4
    entries = public_entries(server, 5)
    for i in items:
        if "report" in i:
            row = rows[i["index"]]
            assert (row["report"], row["loan_id"], row["commitment_salt"]) == (i["report"], i["loan_id"], i["commitment_salt"])
            assert hashlib.sha256(item_json(row)).hexdigest() == entries[i["index"]].commitment


def test_lender_deposit_names_the_file_line_and_field_of_a_bad_report(tmp_path: Path, server, key: Path) -> None:
    sheet = tmp_path / "bad.csv"
    lines = tmp_path / "bad.jsonl"
    cases = [
        (sheet, CSV.replace(",10500,2026-02-01,500", ",10x500,2026-02-01,500"), f"{sheet} line 3: report.amount: must be an integer"),
        (sheet, CSV.replace("contract,L-1", "other,L-1"), f"{sheet} line 2: record_type: must be one of"),
        (sheet, CSV.replace("borrower,amount", "borrower,amounts"), f"{sheet}: header.amounts: unknown column"),
        (sheet, CSV.replace(",L-1,1769904000000", ",L 1,1769904000000"), f"{sheet} line 3: loan_id: must be"),
        (lines, json.dumps({"loan_id": "L-1", "record_type": "repayment", "report": {**REPORTS["repayment"], "date": "soon"}}) + "\n",
         f"{lines} line 1: report.date: must be a date YYYY-MM-DD"),
        (lines, "\n" + json.dumps({"loan_id": "L-1", "record_type": "consent"}) + "\n", f"{lines} line 2: report: missing field"),
        (lines, json.dumps({"loan_id": "L-1", "report": REPORTS["overdue"]}) + "\n", f"{lines} line 1: report: no report for record type 'other'"),
    ]
    for path, text, message in cases:
        path.write_text(text, encoding="utf-8")
        refused = fc("lender", "deposit", str(path), "--server", server.url, "--lender", "L0001", "--key", str(key),
                     "--out", str(tmp_path / "r.json"), check=False)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert message in " ".join(refused.stderr.split()), (message, refused.stderr)
        path.unlink()
    assert not (tmp_path / "r.json").exists()
    assert httpx.get(server.url + "/v1/chain").json()["sealed_size"] == 0 and feed(server).json()["reports"] == []


def test_the_openapi_document_describes_the_report_and_the_feed(server) -> None:
    document = httpx.get(server.url + "/openapi.json").json()
    item = document["components"]["schemas"]["DepositItemIn"]["properties"]
    report = item["report"]
    assert "object" in [t.get("type") for t in report["anyOf"]] and "consent" in report["description"] and "items[0].report.principal" in report["description"]
    assert "consent" in document["components"]["schemas"]["DepositItemIn"]["properties"]["record_type"]["enum"]
    for path in ("/v1/feed/reports", "/v1/feed/lenders"):
        assert document["paths"][path]["get"]["tags"] == ["feed"]
    limit = next(p for p in document["paths"]["/v1/feed/reports"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["maximum"], limit["schema"]["minimum"], limit["schema"]["default"]) == (10_000, 1, 5_000)
