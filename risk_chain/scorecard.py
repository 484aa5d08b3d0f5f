"""The scorecard: a versioned TOML model turning indicator values into a 0-100 risk index, a band and warnings.

The model file's SHA-256 travels with every score, so a warning names exactly the model it came
from and anyone holding that file can recompute it. A model that fails to load is refused with
the field named, and ``ModelHolder`` keeps the last good one in force.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .indicator_sql import INDICATORS

# figures another chain supplies (not computed from the supervision reports): the credit chain's share of a lender's
# borrowers with at least N other lenders (multi-head borrowing); a warning records the value it was scored with
EXTERNAL_INDICATORS = ("multihead_share",)

__all__ = ["EXTERNAL_INDICATORS", "BANDS", "DEFAULT_MODEL", "Model", "ModelError", "ModelHolder", "Rule", "Score", "ScoreLine", "band_of", "load_model", "parse_model", "score"]

DEFAULT_MODEL = Path(__file__).with_name("models") / "default.toml"
BANDS = (("red", 80), ("orange", 60), ("yellow", 40), ("blue", 20), ("green", 0))  # lowest index of each band
WARNING_BANDS = ("red", "orange")


class ModelError(ValueError):
    """A model file that cannot be used: ``path`` names the field, ``rule`` what is wrong."""

    def __init__(self, path: str, rule: str) -> None:
        super().__init__(f"{path}: {rule}")
        self.path = path
        self.rule = rule


@dataclass(frozen=True)
class Rule:
    """One indicator's bins (ascending upper edges), points per bin and optional hard limit."""

    bins: tuple[float, ...]
    points: tuple[int, ...]
    hard_limit: float | None


@dataclass(frozen=True)
class Model:
    """A loaded scorecard and the SHA-256 of the exact bytes it came from."""

    version: str
    sha256: str
    rules: dict[str, Rule]


@dataclass(frozen=True)
class ScoreLine:
    """One indicator's part of a score."""

    indicator: str
    value: float
    bin: int
    points: int
    hard_limit: float | None
    limit_crossed: bool


@dataclass(frozen=True)
class Score:
    """A lender-day's index, band and whether it raises a warning, with the model that produced it."""

    model_version: str
    model_sha256: str
    lines: tuple[ScoreLine, ...]
    index: int
    band: str
    warning: bool
    reasons: tuple[str, ...]


def band_of(index: float) -> str:
    """The band of a 0-100 index: red 80-100, orange 60-80, yellow 40-60, blue 20-40, green below 20."""
    return next(name for name, low in BANDS if index >= low)


def _number(value: Any, path: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise ModelError(path, "must be a finite number")
    return value


def _rule(raw: Any, path: str) -> Rule:
    if not isinstance(raw, dict):
        raise ModelError(path, "must be a table")
    for key in raw:
        if key not in ("bins", "points", "hard_limit"):
            raise ModelError(f"{path}.{key}", "unknown field")
    for key in ("bins", "points"):
        if not isinstance(raw.get(key), list):
            raise ModelError(f"{path}.{key}", "missing field" if key not in raw else "must be a list")
    bins = tuple(_number(v, f"{path}.bins[{i}]") for i, v in enumerate(raw["bins"]))
    for i in range(1, len(bins)):
        if bins[i] <= bins[i - 1]:
            raise ModelError(f"{path}.bins[{i}]", "bins must be strictly ascending")
    points = raw["points"]
    if len(points) != len(bins) + 1:
        raise ModelError(f"{path}.points", f"must have {len(bins) + 1} entries (one more than bins)")
    for i, p in enumerate(points):
        if type(p) is not int or p < 0:
            raise ModelError(f"{path}.points[{i}]", "must be a non-negative integer")
    limit = raw.get("hard_limit")
    return Rule(bins, tuple(points), None if limit is None else _number(limit, f"{path}.hard_limit"))


def parse_model(data: bytes) -> Model:
    """A model from the bytes of its TOML file, or a ModelError naming the field."""
    try:
        raw = tomllib.loads(data.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ModelError("file", f"not TOML: {error}") from None
    for key in raw:
        if key not in ("version", "indicators"):
            raise ModelError(key, "unknown field")
    if type(raw.get("version")) is not str or not raw["version"]:
        raise ModelError("version", "missing field" if "version" not in raw else "must be a non-empty string")
    indicators = raw.get("indicators")
    if not isinstance(indicators, dict) or not indicators:
        raise ModelError("indicators", "must be a non-empty table of indicators")
    rules = {}
    for name, rule in indicators.items():
        if name not in INDICATORS and name not in EXTERNAL_INDICATORS:
            raise ModelError(f"indicators.{name}", f"unknown indicator (one of {', '.join(INDICATORS + EXTERNAL_INDICATORS)})")
        rules[name] = _rule(rule, f"indicators.{name}")
    if sum(max(r.points) for r in rules.values()) != 100:
        raise ModelError("indicators", "the largest points of all indicators must add up to 100")
    return Model(raw["version"], hashlib.sha256(data).hexdigest(), rules)


def load_model(path: Path = DEFAULT_MODEL) -> Model:
    """Read and parse a model file (ModelError when it cannot be read or used)."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ModelError("file", f"cannot read {path}: {error.strerror}") from None
    return parse_model(data)


def score(model: Model, values: Mapping[str, float], previous_band: str | None = None) -> Score:
    """Score one lender-day: a warning when it enters orange or red (from ``previous_band``) or any hard limit is crossed."""
    lines = []
    for name, rule in model.rules.items():
        if name not in values:
            raise KeyError(f"no value for indicator {name!r}")
        value = float(values[name])
        b = bisect.bisect_right(rule.bins, value)
        crossed = rule.hard_limit is not None and value >= rule.hard_limit
        lines.append(ScoreLine(name, value, b, rule.points[b], rule.hard_limit, crossed))
    index = sum(line.points for line in lines)
    band = band_of(index)
    reasons = [f"entered {band}"] if band in WARNING_BANDS and previous_band not in WARNING_BANDS else []
    reasons += [f"{line.indicator} at or above its hard limit {line.hard_limit:g}" for line in lines if line.limit_crossed]
    return Score(model.version, model.sha256, tuple(lines), index, band, bool(reasons), tuple(reasons))


class ModelHolder:
    """The model in force: a reload that fails leaves the last good model in place and says why."""

    def __init__(self, path: Path = DEFAULT_MODEL) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._model = load_model(self.path)
        self.last_error: ModelError | None = None

    @property
    def model(self) -> Model:
        return self._model

    def reload(self, path: Path | None = None) -> Model:
        """Load ``path`` (or the same file again); on failure keep the current model, record and raise the error."""
        target = Path(path) if path is not None else self.path
        try:
            model = load_model(target)
        except ModelError as error:
            self.last_error = error
            raise
        with self._lock:
            self._model, self.path, self.last_error = model, target, None
        return model
