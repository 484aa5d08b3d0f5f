"""Package boundaries: the pure core imports no web, RPC or database driver; services share the kits,
never each other's private names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE_FORBIDDEN = {"fastapi", "starlette", "uvicorn", "httpx", "grpc", "grpc_health", "grpc_reflection", "sqlalchemy",
                  "sqlmodel", "psycopg", "alembic", "jinja2", "proto", "chain_sql", "supervision_chain", "judicial_chain",
                  "fivechains", "service_kit"}
PACKAGES = ["chain", "chain_sql", "evidence", "service_kit", "supervision_chain", "judicial_chain", "risk_chain", "fivechains", "proto"]


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, level) for every import statement in a file."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], 0) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", [a.name for a in node.names], node.level))
    return found


def test_chain_sources_import_no_web_rpc_or_driver():
    offenders = []
    for path in sorted((ROOT / "chain").rglob("*.py")):
        for module, _, level in _imports(path):
            if level == 0 and module.split(".")[0] in CORE_FORBIDDEN:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_chain_imports_in_a_fresh_interpreter_without_a_driver():
    modules = sorted("chain." + p.stem if p.parent.name == "chain" else f"chain.{p.parent.name}.{p.stem}"
                     for p in (ROOT / "chain").rglob("*.py") if p.stem != "__init__")
    code = ("import sys, importlib\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(CORE_FORBIDDEN)!r}))\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_module_imports_another_packages_private_name():
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
                continue
            for module, names, level in _imports(path):
                if level > 0:
                    continue
                top = module.split(".")[0]
                if top in PACKAGES and top != package:
                    private = [n for n in names if n.startswith("_")] + [p for p in module.split(".") if p.startswith("_") and p != "__init__"]
                    if private:
                        offenders.append(f"{path.relative_to(ROOT)}: from {module} import {', '.join(private)}")
    assert offenders == []
