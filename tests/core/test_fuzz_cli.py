"""Issue 8: fuzzing the CLI's two file inputs, `plan --batch` lines and config.toml.

Whatever the values, the CLI answers: one result line per batch request, each a JSON object
(a plan or `{"error", "line"}`), a config either accepted or refused with exit 2 and a JSON error
object, and never the last-resort "unexpected" message, an internal error or a traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import tomllib
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.cli import main

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config.toml"
NOW = "2024-03-05T18:00:00+01:00"
T0 = datetime.fromisoformat("2024-03-05T12:00:00+00:00")
PRICES_CSV = "start,price\n" + "".join(
    f"{(T0 + timedelta(hours=i)).isoformat()},{0.1 + 0.01 * (i % 24)}\n" for i in range(48))
GOOD = {"now": NOW, "departure": "2024-03-06T07:30:00+01:00", "soc": 30, "target": 80,
        "capacity": 76.4, "max_power": 11}
KEYS = ["prices", "now", "departure", "soc", "target", "capacity", "max_power", "min_power",
        "efficiency", "taper", "mode", "min_run", "start_penalty", "buffer", "min_soc",
        "opportunistic_limit", "price_cap", "unknown_price", "charging_now"]
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["30", "", "2024-03-05T18:00:00", "9999-12-31T23:00:00+00:00",
                     "0001-01-01T00:00:00+00:00", "80:11,100:2", "block", "/etc/passwd",
                     "/", "2024-03-05T19:00:00+01:00", "80:inf", "1e400"]),
)


def nested(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Scalars, and small lists and tables of them (tables are JSON objects, TOML inline)."""
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


json_values = nested(json_scalars)
plausible = {
    "soc": st.floats(-10, 110), "target": st.floats(-10, 110), "capacity": st.floats(-1, 300),
    "max_power": st.floats(-1, 600), "min_power": st.floats(-1, 20),
    "efficiency": st.floats(0, 1.2), "min_run": st.integers(-30, 2000),
    "start_penalty": st.floats(-1, 2), "buffer": st.integers(-60, 2000),
    "min_soc": st.floats(-10, 110), "opportunistic_limit": st.floats(-10, 110),
    "price_cap": st.floats(-1, 1), "unknown_price": st.floats(-1, 1),
    "mode": st.sampled_from(["cheapest", "block"]), "charging_now": st.booleans(),
    "taper": st.sampled_from(["80:11,100:2", "50:11,80:5,100:1", "90:3"]),
    "now": st.sampled_from([NOW, "2024-03-06T07:00:00+01:00", "2024-03-04T00:00:00Z"]),
    "departure": st.sampled_from(["2024-03-06T07:30:00+01:00", "2024-03-19T18:00:00+01:00",
                                  "2024-03-05T18:30:00+01:00"]),
}


@st.composite
def batch_line(draw: st.DrawFn, prices: str) -> str:
    """A request built from a good one: keys changed (plausibly or wildly), dropped or added."""
    kind = draw(st.sampled_from(["request", "request", "request", "value", "text"]))
    if kind == "value":
        return json.dumps(draw(json_values))
    if kind == "text":
        # Any text but the line end itself: form feeds and U+2028 stay inside the line.
        text = st.text(st.characters(blacklist_characters="\n\r"), min_size=1, max_size=40)
        return draw(text.filter(lambda t: t.strip(" \t") != "") | st.sampled_from(
            ["{\x0c}", "{\u2028}", "\x1c", "[1,\x0b2]"]))
    item: dict[str, Any] = {**GOOD, "prices": prices}
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True)):
        wild = draw(st.booleans()) or key not in plausible
        item[key] = draw(json_values if wild else plausible[key])
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=1)):
        item.pop(key, None)
    if draw(st.integers(0, 9)) == 0:
        item[draw(st.text(max_size=8))] = draw(json_scalars)
    return json.dumps(item)  # NaN and Infinity come out as such, as a careless writer makes


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def _never_a_crash(out: str, err: str) -> None:
    for text in (out, err):
        assert "unexpected" not in text
        assert "Traceback" not in text
        assert "please report" not in text  # the batch's own last resort


@FUZZ
@given(data=st.data())
def test_batch_lines_always_get_one_result_each(tmp_path_factory: Any, data: st.DataObject
                                                ) -> None:
    directory = tmp_path_factory.mktemp("batch")
    prices = directory / "prices.csv"
    prices.write_text(PRICES_CSV)
    lines = data.draw(st.lists(batch_line(str(prices)), min_size=1, max_size=4))
    batch = directory / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = _cli(["plan", "--batch", str(batch)])
    _never_a_crash(out, err)
    results = [json.loads(line) for line in out.splitlines()]  # strict JSON: no NaN
    assert len(results) == len(lines)
    failed = 0
    for number, result in enumerate(results, start=1):
        assert isinstance(result, dict)
        if "error" in result:
            failed += 1
            assert set(result) == {"error", "line"} and result["line"] == number
            assert "\n" not in result["error"]
        else:
            assert all(math.isfinite(result[k]) for k in ("energy_kwh", "cost",
                                                           "soc_at_departure_pct"))
    assert code == (2 if failed else 0)


# --------------------------------------------------------------------------- config.toml


def _toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _toml(value: Any) -> str:
    """A TOML value (inline tables and arrays only, so any document is one line per key)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


toml_scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True),
    st.text(max_size=20), st.times(),
    st.sampled_from(["30", "07:30", "3", "true", "Europe/Berlin", "/etc/passwd", "..", "",
                     "ocpp", "modbus", "simulated", "block"]),
)
toml_values = nested(toml_scalars)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in the document (dict keys and list indices)."""
    out = [prefix] if prefix else []
    items = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, list) else ())
    for key, child in items:
        out += _paths(child, (*prefix, key))
    return out


@FUZZ
@given(data=st.data())
def test_config_loader_accepts_or_names_the_culprit(tmp_path_factory: Any,
                                                    data: st.DataObject) -> None:
    document = tomllib.loads(CONFIG.read_text())
    document["tariff"] = str(REPO / "tariffs" / "de_flat.toml")
    paths = _paths(document)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        try:
            parent: Any = document
            for key in path[:-1]:
                parent = parent[key]
            if action == "replace":
                parent[path[-1]] = data.draw(toml_values)
            elif action == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, dict):
                parent[data.draw(st.text(max_size=8))] = data.draw(toml_values)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change removed or replaced this path
    path = tmp_path_factory.mktemp("config") / "config.toml"
    path.write_text("".join(f"{_toml_key(k)} = {_toml(v)}\n" for k, v in document.items()),
                    encoding="utf-8")
    for args in (["check-config", "--config", str(path), "--json"],
                 ["plan", "--config", str(path), "--now", NOW, "--soc", "30",
                  "--max-power", "11", "--json"]):
        code, out, err = _cli(args)
        _never_a_crash(out, err)
        assert code in (0, 2), (code, err)
        lines = out.splitlines()
        assert len(lines) == 1, out
        result = json.loads(lines[0])
        assert isinstance(result, dict)
        if code == 2:
            assert set(result) == {"error"}
            assert len(err.strip().splitlines()) == 1, err
