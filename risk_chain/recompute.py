"""Recompute a warning from the supervision data alone and compare it with what the warning recorded,
bit for bit: every indicator's value, bin and points, the index and band, and the entries behind each figure.

Anyone holding the regulator's feed credential can run it (``fivechains risk recompute``): the warning
names the model by its SHA-256, the settings, and the supervision position it was computed at, so the
same reports, the same model file and the same code give the same figures, or the first difference is named.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from .indicators import EXTERNAL_SCHEMA, RiskIndicators, RiskSettings
from .report_table import REPORT_SCHEMA
from .scorecard import parse_model, score

__all__ = ["recompute_explanation"]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b) or (isinstance(a, (int, float)) and isinstance(b, (int, float)) and float(a) == float(b)
                                               and math.copysign(1, float(a)) == math.copysign(1, float(b)))


def recompute_explanation(explanation: dict[str, Any], model_text: str, report_pages: Iterable[pa.Table]) -> dict[str, Any]:
    """``{"agree": bool, "first_difference": str | None, "compared": n}`` for an explanation recorded by a warning."""
    model = parse_model(model_text.encode())
    if model.sha256 != explanation["model"]["sha256"]:
        return {"agree": False, "first_difference": f"the model file's SHA-256 is {model.sha256}, the warning names "
                                                     f"{explanation['model']['sha256']}", "compared": 0}
    tables = [t.select(REPORT_SCHEMA.names) for t in report_pages]
    reports = pa.concat_tables(tables) if tables else REPORT_SCHEMA.empty_table()
    lender, day = explanation["lender_id"], dt.date.fromisoformat(explanation["day"])
    figures = RiskIndicators(RiskSettings(**explanation["settings"]), threads=1)
    figures.recompute(reports)
    complaints = explanation.get("complaints", [])
    if complaints:
        days = [dt.date.fromisoformat(c["day"]) for c in complaints]
        counts: dict[dt.date, int] = {}
        for d in days:
            counts[d] = counts.get(d, 0) + 1
        figures.add_complaints(pa.table({"lender_id": [lender] * len(counts), "day": list(counts), "count": list(counts.values())},
                                        schema=EXTERNAL_SCHEMA))
    external = {name: float(given["value"]) for name, given in explanation.get("external", {}).items()}  # as the other chain said
    try:
        values = {**figures.row(lender, day), **external}
    except KeyError:
        return {"agree": False, "first_difference": f"the supervision data give no figures for {lender} on {day}", "compared": 0}
    try:
        previous = score(model, {**figures.row(lender, day - dt.timedelta(days=1)), **external}).band
    except KeyError:
        previous = None
    s = score(model, values, previous_band=previous)
    compared = 0
    for field, mine in (("risk_index", s.index), ("band", s.band), ("reasons", list(s.reasons))):
        compared += 1
        if mine != explanation[field]:
            return {"agree": False, "first_difference": f"{field}: recomputed {mine!r}, recorded {explanation[field]!r}", "compared": compared}
    recorded = {line["indicator"]: line for line in explanation["lines"]}
    for line in s.lines:
        theirs = recorded.get(line.indicator)
        if theirs is None:
            return {"agree": False, "first_difference": f"{line.indicator}: not recorded", "compared": compared}
        value = line.value if math.isfinite(line.value) else None
        for field, mine in (("value", value), ("bin", line.bin), ("points", line.points), ("limit_crossed", line.limit_crossed)):
            compared += 1
            if not _same(mine, theirs[field]):
                return {"agree": False, "first_difference": f"{line.indicator}.{field}: recomputed {mine!r}, recorded {theirs[field]!r}",
                        "compared": compared}
        compared += 1
        entries = [] if line.indicator in external else figures.explain(lender, day, line.indicator).indexes
        if entries != theirs["entries"]:
            return {"agree": False, "first_difference": f"{line.indicator}.entries: recomputed {len(entries)} entries, recorded "
                                                        f"{len(theirs['entries'])} (first differing: "
                                                        f"{next((a, b) for a, b in zip(entries + [None], theirs['entries'] + [None]) if a != b)})",
                    "compared": compared}
    return {"agree": True, "first_difference": None, "compared": compared}
