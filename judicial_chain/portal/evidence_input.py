"""What a party hands the court, turned into evidence items: a ZIP of evidence files with a
manifest (receipts.json or manifest.json: path, code, salt, line), a receipts.json alone
(digests), a JSON list of {code, digest}, or pasted "CODE DIGEST" lines.

A ZIP is checked before anything is unpacked: at most ``MAX_ENTRIES`` entries, ``MAX_UNZIPPED``
bytes in all and a compression ratio of ``MAX_RATIO`` per entry (a zip bomb is refused, not
inflated); encrypted entries and methods other than stored/deflate are refused. A damaged,
encrypted or unsupported archive raises ``ArchiveError`` (answered 400); a manifest that makes no
sense raises ``InputError`` (answered 422).
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import PurePosixPath
from typing import Any

from ..verification import Evidence

MAX_UNZIPPED = 512 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_RATIO = 100  # uncompressed ÷ compressed, per entry; ordinary documents stay far below
RATIO_FLOOR = 64 * 1024  # entries this small may compress any amount (a run of spaces is not a bomb)
MANIFESTS = ("receipts.json", "manifest.json")
SUPPORTED = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class InputError(ValueError):
    """The upload is readable but does not describe evidence items (422)."""


class ArchiveError(InputError):
    """The ZIP itself is damaged, encrypted, unsupported or over a limit (400)."""


def _rows(document: Any) -> list[dict[str, Any]]:
    rows = document.get("items") if isinstance(document, dict) else document
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError("the manifest must be a list of items (or an object with an 'items' list)")
    return rows


def _evidence(row: dict[str, Any], files: dict[str, bytes] | None) -> Evidence:
    code = str(row.get("deposit_code") or row.get("code") or "")
    salt, path, line = row.get("salt"), row.get("path"), row.get("line")
    if files is not None and path:
        data = files.get(path) or files.get(PurePosixPath(path).name)
        if data is not None:
            if line:
                try:
                    record = json.loads(data.decode("utf-8").splitlines()[int(line) - 1])
                except (IndexError, ValueError, UnicodeDecodeError):
                    return Evidence(code, digest="", path=path, line=line)  # judged malformed
                return Evidence(code, record=record, salt=salt, path=path, line=line)
            return Evidence(code, content=data, salt=salt, path=path)
    return Evidence(code, digest=row.get("digest") or "", salt=salt, path=path, line=line)


def from_upload(filename: str, data: bytes) -> list[Evidence]:
    if data[:2] == b"PK":
        return from_zip(data)
    try:
        return [_evidence(r, None) for r in _rows(json.loads(data.decode("utf-8")))]
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ArchiveError(f"{filename} is neither a ZIP case bundle nor a JSON manifest") from None


def _checked_entries(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's file entries, after the limits that hold before anything is inflated."""
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise ArchiveError(f"the ZIP has {len(entries):,} entries; at most {MAX_ENTRIES:,}")
    total = 0
    for info in entries:
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{info.filename} is encrypted; send the evidence unencrypted")
        if info.compress_type not in SUPPORTED:
            raise ArchiveError(f"{info.filename} uses an unsupported compression method ({info.compress_type}); use deflate")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ArchiveError(f"{info.filename} expands more than {MAX_RATIO}-fold; refused as a possible zip bomb")
        total += info.file_size
        if total > MAX_UNZIPPED:
            raise ArchiveError(f"the ZIP unpacks to more than {MAX_UNZIPPED // 2**20} MiB")
    return [i for i in entries if not i.is_dir()]


def from_zip(data: bytes) -> list[Evidence]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        # the declared sizes are enforced while reading: zipfile stops at file_size and checks the CRC
        files = {i.filename: archive.read(i) for i in _checked_entries(archive)}
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ArchiveError(f"the ZIP file is damaged ({exc.__class__.__name__})") from None
    except (RuntimeError, NotImplementedError) as exc:  # encryption or a method zipfile cannot read
        raise ArchiveError(f"the ZIP file cannot be read: {exc}") from None
    files.update({PurePosixPath(name).name: content for name, content in list(files.items())})
    manifest = next((files[m] for m in MANIFESTS if m in files), None)
    if manifest is None:
        raise InputError("the ZIP has no receipts.json or manifest.json")
    try:
        return [_evidence(r, files) for r in _rows(json.loads(manifest))]
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError("the manifest in the ZIP is not JSON") from None


def from_pasted(text: str) -> list[Evidence]:
    text = text.strip()
    if not text:
        return []
    if text[0] in "[{":
        return [_evidence(r, None) for r in _rows(json.loads(text))]
    items = []
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if parts:
            items.append(Evidence(parts[0], digest=parts[1] if len(parts) > 1 else "", line=n))
    return items
