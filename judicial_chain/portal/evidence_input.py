"""What a party hands the court, turned into evidence items: a ZIP of evidence files with a
manifest (receipts.json or manifest.json: path, code, salt, line), a receipts.json alone
(digests), a JSON list of {code, digest}, or pasted "CODE DIGEST" lines."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import PurePosixPath
from typing import Any

from ..verification import Evidence

MAX_UNZIPPED = 512 * 1024 * 1024
MANIFESTS = ("receipts.json", "manifest.json")


class InputError(ValueError):
    pass


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
    if data[:4] == b"PK\x03\x04":
        return from_zip(data)
    try:
        return [_evidence(r, None) for r in _rows(json.loads(data.decode("utf-8")))]
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{filename} is neither a ZIP case bundle nor a JSON manifest") from None


def from_zip(data: bytes) -> list[Evidence]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError("the ZIP file is damaged") from None
    if sum(i.file_size for i in archive.infolist()) > MAX_UNZIPPED:
        raise InputError("the ZIP unpacks to more than 512 MiB")
    files = {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    files.update({PurePosixPath(name).name: content for name, content in list(files.items())})
    manifest = next((files[m] for m in MANIFESTS if m in files), None)
    if manifest is None:
        raise InputError("the ZIP has no receipts.json or manifest.json")
    return [_evidence(r, files) for r in _rows(json.loads(manifest))]


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
