"""The scorecard: bins and points to an index and band, warnings, the model's hash, and refusing bad models by field."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from risk_chain.scorecard import DEFAULT_MODEL, ModelError, ModelHolder, band_of, load_model, parse_model, score

SMALL = b"""
version = "t1"
[indicators.overdue_m1]
bins = [0.05, 0.10]
points = [0, 30, 60]
hard_limit = 0.5
[indicators.late_share]
bins = [0.1]
points = [0, 40]
"""


def test_bands_at_their_edges() -> None:
    assert [band_of(i) for i in (0, 19, 20, 39, 40, 59, 60, 79, 80, 100)] == \
        ["green", "green", "blue", "blue", "yellow", "yellow", "orange", "orange", "red", "red"]


def test_score_lines_index_band_and_hash() -> None:
    model = parse_model(SMALL)
    assert model.sha256 == hashlib.sha256(SMALL).hexdigest() and model.version == "t1"
    s = score(model, {"overdue_m1": 0.10, "late_share": 0.05, "complaints": 9})  # 0.10 is the lower edge of bin 2
    assert [(line.indicator, line.bin, line.points) for line in s.lines] == [("overdue_m1", 2, 60), ("late_share", 0, 0)]
    assert (s.index, s.band, s.model_sha256) == (60, "orange", model.sha256)
    assert s.warning and s.reasons == ("entered orange",)


def test_warning_only_when_entering_or_limit_crossed() -> None:
    model = parse_model(SMALL)
    staying = score(model, {"overdue_m1": 0.07, "late_share": 0.2}, previous_band="orange")  # 30 + 40 = 70: orange again
    assert (staying.band, staying.warning) == ("orange", False)
    red = score(model, {"overdue_m1": 0.2, "late_share": 0.2}, previous_band="orange")  # 100: red, but already warned
    assert (red.band, red.warning) == ("red", False)
    crossed = score(model, {"overdue_m1": 0.5, "late_share": 0.0}, previous_band="orange")  # hard limit, whatever the band
    assert crossed.warning and crossed.reasons == ("overdue_m1 at or above its hard limit 0.5",)
    calm = score(model, {"overdue_m1": 0.0, "late_share": 0.0})
    assert (calm.index, calm.band, calm.warning) == (0, "green", False)
    with pytest.raises(KeyError):
        score(model, {"overdue_m1": 0.0})


def test_default_model_loads_and_spans_0_to_100() -> None:
    model = load_model()
    assert sum(max(r.points) for r in model.rules.values()) == 100
    assert model.sha256 == hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest()
    worst = score(model, {name: 1e9 for name in model.rules})
    assert (worst.index, worst.band) == (100, "red")


@pytest.mark.parametrize(("text", "path", "rule"), [
    (b"version = 't1'\n[indicators.overdue_m1\n", "file", "not TOML"),
    (SMALL.replace(b'version = "t1"', b""), "version", "missing field"),
    (SMALL + b"colour = 'red'\n", "indicators.late_share.colour", "unknown field"),
    (SMALL.replace(b"late_share", b"late_shares"), "indicators.late_shares", "unknown indicator"),
    (SMALL.replace(b"[0.05, 0.10]", b"[0.10, 0.05]"), "indicators.overdue_m1.bins[1]", "ascending"),
    (SMALL.replace(b"[0, 30, 60]", b"[0, 30]"), "indicators.overdue_m1.points", "3 entries"),
    (SMALL.replace(b"[0, 30, 60]", b"[0, -30, 60]"), "indicators.overdue_m1.points[1]", "non-negative"),
    (SMALL.replace(b"[0.05, 0.10]", b"[0.05, 'x']"), "indicators.overdue_m1.bins[1]", "finite number"),
    (SMALL.replace(b"hard_limit = 0.5", b"hard_limit = nan"), "indicators.overdue_m1.hard_limit", "finite number"),
    (SMALL.replace(b"points = [0, 40]", b""), "indicators.late_share.points", "missing field"),
    (SMALL.replace(b"[0, 40]", b"[0, 39]"), "indicators", "add up to 100"),
])
def test_bad_models_are_refused_naming_the_field(text: bytes, path: str, rule: str) -> None:
    with pytest.raises(ModelError) as refused:
        parse_model(text)
    assert refused.value.path == path and rule in refused.value.rule


def test_holder_keeps_the_last_good_model(tmp_path: Path) -> None:
    file = tmp_path / "model.toml"
    file.write_bytes(SMALL)
    holder = ModelHolder(file)
    good = holder.model
    file.write_bytes(SMALL.replace(b"[0, 40]", b"[0, 41]"))
    with pytest.raises(ModelError) as refused:
        holder.reload()
    assert refused.value.path == "indicators"
    assert holder.model is good and holder.last_error is refused.value
    with pytest.raises(ModelError):
        holder.reload(tmp_path / "missing.toml")
    assert holder.model is good
    newer = SMALL.replace(b'"t1"', b'"t2"')
    file.write_bytes(newer)
    assert holder.reload().version == "t2" and holder.model.sha256 == hashlib.sha256(newer).hexdigest() and holder.last_error is None
