"""An acknowledged append survives `kill -9`: a child process appends and reports each
acknowledgement; we kill it mid-stream and find every acknowledged entry intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from chain.merkle import leaf_hash
from chain_sql import open_store

CHILD = r"""
import sys
from chain_sql import open_store
from chain.merkle import leaf_hash
store = open_store(sys.argv[1])
store.initialize({"chain_id": "kill.test/chain", "hash_suite": "sha256", "vkey": "-"})
i = 0
while True:
    batch = [b"entry-%d" % (i + k) for k in range(50)]
    first = store.append(batch, [leaf_hash(e) for e in batch])
    print(first, len(batch), flush=True)   # the acknowledgement
    i += 50
"""


def test_acknowledged_appends_survive_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True, env=env)
    acked = 0
    deadline = time.monotonic() + 60
    try:
        while acked < 2000 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            first, count = map(int, line.split())
            assert first == acked
            acked = first + count
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert acked >= 2000, "the child did not acknowledge enough appends in time"

    store = open_store(db)
    try:
        size = store.size()
        assert size >= acked  # everything acknowledged is there (one more batch may have landed)
        assert size % 50 == 0  # and nothing half-written: whole batches only
        for entry in store.iter_entries():
            assert entry.data == b"entry-%d" % entry.index
            assert entry.leaf_hash == leaf_hash(entry.data)
    finally:
        store.close()
