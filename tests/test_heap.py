"""A served chain's process settles its heap once started (``service_kit.heap``), in its own process here:
freezing and thresholds are process-wide, so the test suite's own collector is left alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import asyncio, gc, json
from service_kit.heap import THRESHOLDS
from service_kit.lifespan import chain_lifespan
from service_kit.sealing import Changes

class Chain:  # what a lifespan needs of a chain: changes to bind, a start and a stop
    def __init__(self): self.changes, self.events = Changes(), []
    def start(self): self.events.append(("start", gc.get_freeze_count(), gc.get_threshold()))
    def stop(self): self.events.append(("stop",))

async def main():
    chain = Chain()
    before = (gc.get_freeze_count(), gc.get_threshold())
    async with chain_lifespan(chain)(None):
        during = (gc.get_freeze_count(), gc.get_threshold())
    print(json.dumps({"before": before, "during": during, "events": chain.events, "thresholds": THRESHOLDS}))

asyncio.run(main())
"""


def test_the_heap_is_frozen_and_collections_spaced_out_once_the_chain_has_started() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout
    seen = json.loads(out)
    assert seen["before"] == [0, [700, 10, 10]]  # the interpreter's defaults
    assert seen["events"][0] == ["start", 0, [700, 10, 10]]  # the chain starts first, with the defaults
    frozen, thresholds = seen["during"]
    assert frozen > 10_000 and thresholds == seen["thresholds"] and seen["events"][-1] == ["stop"]
