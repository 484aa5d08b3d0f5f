"""Who holds the claim of a loan, asked of the service chain (服务链) for the court's verified items.

A verified supervision deposit says who lent; the claim may since have been sold (资产处置) or pledged. The
service chain, which records those transfers, answers ``POST /v1/court/holders`` with the court's token:
for each supervision index it knows, the loan's holder now. The portal asks once per chunk of verdicts; when
the service chain cannot be asked the verdicts stand without holders (a verdict never depends on it).
The answer is another system's words shown to a judge: it is type-checked here and escaped where shown.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import msgspec

from evidence.deposit_codes import CodeError, format_code, normalize

__all__ = ["ClaimHolders", "HoldersUnavailable", "MAX_INDEXES", "holder_line", "UNKNOWN_HOLDER", "UNAVAILABLE_NOTE"]

MAX_INDEXES = 10_000  # per request, by the service chain's contract
_Id = Annotated[str, msgspec.Meta(max_length=128)]


class HoldersUnavailable(Exception):
    """The service chain could not be asked (unreachable, refused, failed or answered nonsense); never names the token."""


class _Holder(msgspec.Struct, frozen=True):
    supervision_index: Annotated[int, msgspec.Meta(ge=0)]
    lender_id: _Id
    loan_id: _Id
    holder_id: _Id
    holder_name: Annotated[str, msgspec.Meta(max_length=400)]
    holder_kind: Literal["lender", "buyer"]
    since_ms: Annotated[int, msgspec.Meta(ge=0)] | None
    transfer_index: Annotated[int, msgspec.Meta(ge=0)] | None = None
    transfer_code: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    pledged: bool = False


class _Answer(msgspec.Struct, frozen=True):
    holders: list[_Holder]


_DECODE = msgspec.json.Decoder(_Answer).decode


class ClaimHolders:
    """The service chain's court endpoint. ``supervision_chain``: the source chain whose indexes it knows (verdicts
    anchored from any other source, e.g. the risk chain, are never asked about)."""

    def __init__(self, url: str, token_file: Path, timeout: float = 10, *, supervision_chain: str) -> None:
        self.url = url.rstrip("/")
        self.token_file = token_file
        self.supervision_chain = supervision_chain
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ClaimHolders:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _token(self) -> str:
        """Read at each call: the service chain may write or rotate it after the portal started."""
        try:
            token = self.token_file.read_text().strip()
        except OSError as exc:
            raise HoldersUnavailable(f"the court token file {self.token_file} cannot be read ({exc.__class__.__name__})") from None
        if not token:
            raise HoldersUnavailable(f"the court token file {self.token_file} is empty")
        return token

    def holders(self, supervision_indexes: list[int]) -> dict[int, dict[str, Any]]:
        """The holder of each index the service chain knows (unknown ones are absent), by supervision index: the contract's
        fields but ``supervision_index``. Raises HoldersUnavailable if any request of the batch fails."""
        wanted = sorted(set(supervision_indexes))
        if not wanted:
            return {}
        headers = {"Authorization": f"Bearer {self._token()}"}
        out: dict[int, dict[str, Any]] = {}
        for start in range(0, len(wanted), MAX_INDEXES):
            chunk = wanted[start : start + MAX_INDEXES]
            try:
                answer = self.http.post("/v1/court/holders", json={"supervision_indexes": chunk}, headers=headers)
            except httpx.HTTPError as exc:
                raise HoldersUnavailable(f"the service chain at {self.url} cannot be reached ({exc.__class__.__name__})") from None
            if answer.status_code != 200:  # 5xx, and 401/403 (a wrong token), 422 …: the holders are unknown either way
                raise HoldersUnavailable(f"the service chain at {self.url} answered HTTP {answer.status_code}")
            try:
                found = _DECODE(answer.content).holders
            except msgspec.DecodeError as exc:
                raise HoldersUnavailable(f"the service chain's answer is not the holders contract: {exc}") from None
            asked = set(chunk)
            for h in found:
                if h.supervision_index in asked:  # only what was asked: an answer cannot add verdicts' holders
                    fields = msgspec.structs.asdict(h)
                    del fields["supervision_index"]
                    out[h.supervision_index] = fields
        return out


def _beijing(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000 + 8 * 3600))


UNKNOWN_HOLDER = "债权持有人 Claim holder: 无记录 not known"
UNAVAILABLE_NOTE = "服务链无法查询，部分债权持有人未显示 · The service chain could not be asked: some claim holders are not shown"


def holder_line(holder: dict[str, Any] | None) -> str:
    """The holder as the web page and the printable report show it, in Chinese and English (plain text: escape it to show)."""
    if holder is None:
        return UNKNOWN_HOLDER
    line = f"债权持有人 Claim holder: {holder['holder_name']} ({holder['holder_id']})"
    if holder.get("since_ms") is not None:
        line += f", 自 since {_beijing(holder['since_ms'])} (北京时间 Beijing time)"
    code = holder.get("transfer_code")
    if code:
        try:
            code = format_code(normalize(code))
        except CodeError:
            pass  # shown as the service chain gave it
        line += f"; 转让存证编码 transfer deposit code: {code}"
    if holder.get("pledged"):
        line += "; 已质押 pledged"
    return line
