"""Public entries do not give away loan ids: a dictionary attack on every commitment read from
/v1/entries, with 100,000 likely loan ids (the real ones among them) and the public digest,
event time and record type, recovers none. The same attack on the unsalted scheme recovers them
all, so the attack is real; and the lender's kept salt does open each commitment."""

from __future__ import annotations

import hashlib
import json
import time

import httpx

from evidence.supervision_entry import SupervisionEntry, parse_supervision_entry
from supervision_chain.client import DepositItem, LenderClient
from supervision_chain.records import Item, commitment, item_bytes

LOANS = [f"L{n:05d}" for n in (1, 2, 17, 4242, 99_999)]
DICTIONARY = [f"L{n:05d}" for n in range(100_000)]  # L00000 … L99999


def _public_entries(server, count: int) -> list[SupervisionEntry]:
    deadline = time.monotonic() + 30
    while httpx.get(server.url + "/v1/chain").json()["sealed_size"] < count and time.monotonic() < deadline:
        time.sleep(0.1)
    rows = httpx.get(server.url + "/v1/entries", params={"start": 0, "end": count}).json()["entries"]
    assert len(rows) == count
    return [parse_supervision_entry(row["data"].encode()) for row in rows]


def _attack(entries: list[SupervisionEntry], item_for_guess) -> dict[int, str]:
    """Try every loan id of the dictionary against each entry's commitment; what was recovered."""
    found = {}
    for n, entry in enumerate(entries):
        target = bytes.fromhex(entry.commitment)
        for loan_id in DICTIONARY:
            if hashlib.sha256(item_for_guess(entry, loan_id)).digest() == target:
                found[n] = loan_id
                break
    return found


def _salted_guess(entry: SupervisionEntry, loan_id: str) -> bytes:
    """The attacker's best try at today's item: every public field, the guessed loan id, and no way to know the salt."""
    return item_bytes(Item(entry.digest, entry.record_type, loan_id, entry.event_time_ms, ""))


def _unsalted_item(entry: SupervisionEntry, loan_id: str) -> bytes:
    """The item as it was hashed before salts: only public fields and the loan id."""
    return b'{"digest":"%s","event_time_ms":%d,"loan_id":"%s","record_type":"%s"}' % (
        entry.digest.encode(), entry.event_time_ms, loan_id.encode(), entry.record_type.encode())


def test_a_dictionary_of_loan_ids_recovers_none(server, lenders) -> None:
    now = int(time.time() * 1000)
    with LenderClient(server.url, "L1", lenders["L1"]) as client:
        answer = client.deposit([DepositItem(f"{n:064x}", "repayment", loan, now - 1000) for n, loan in enumerate(LOANS)])
    salts = [item["commitment_salt"] for item in answer["items"]]
    entries = _public_entries(server, len(LOANS))
    assert _attack(entries, _salted_guess) == {}
    # the commitments are genuine: the lender's kept salt opens each one to its loan id
    for entry, loan, salt in zip(entries, LOANS, salts):
        assert commitment(Item(entry.digest, entry.record_type, loan, entry.event_time_ms, salt)).hex() == entry.commitment
    # and no public answer carries a salt or a loan id
    public = [httpx.get(server.url + path).text for path in ("/v1/entries?start=0&end=5", "/v1/blocks", "/v1/checkpoint", "/v1/chain")]
    for secret in salts + LOANS:
        assert all(secret not in text for text in public)


def test_without_the_salt_the_same_attack_recovers_every_loan_id(server, lenders) -> None:
    now = int(time.time() * 1000)
    with LenderClient(server.url, "L1", lenders["L1"]) as client:
        client.deposit([DepositItem(f"{n:064x}", "repayment", loan, now - 1000) for n, loan in enumerate(LOANS)])
    real = _public_entries(server, len(LOANS))
    # the same public entries as the unsalted scheme would have published them
    unsalted = [SupervisionEntry(hashlib.sha256(_unsalted_item(e, loan)).hexdigest(), e.deposit_time_ms, e.digest, e.event_time_ms,
                                 e.lender_id, e.record_type) for e, loan in zip(real, LOANS)]
    assert _attack(unsalted, _unsalted_item) == dict(enumerate(LOANS))
    assert json.dumps([e.commitment for e in real]) != json.dumps([e.commitment for e in unsalted])
