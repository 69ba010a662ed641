"""The --where and --sort language: parsing, meaning, and one-line errors."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mlkit.errors import UsageError
from mlkit.registry.query import (
    VERSION_FIELDS,
    VERSION_MAPS,
    apply,
    filter_versions,
    parse_sort,
    parse_where,
)

RECORDS = [
    {"version": 1, "metrics": {"accuracy": 0.97}, "tags": {"team": "vision"}, "aliases": ()},
    {"version": 2, "metrics": {"accuracy": 0.99}, "tags": {"team": "ml"}, "aliases": ("champion",)},
    {
        "version": 3,
        "metrics": {"accuracy": 0.995},
        "tags": {"team": "ops", "n": "7"},
        "aliases": (),
    },
    {"version": 4, "metrics": {}, "tags": {}, "aliases": (), "description": "baseline run"},
]


def matching(where: str) -> list[int]:
    pred = parse_where(where, VERSION_FIELDS, VERSION_MAPS)
    return [r["version"] for r in RECORDS if pred(r)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("metrics.accuracy > 0.98 and (tags.team = 'vision' or tags.team = 'ml')", [2]),
        ("metrics.accuracy > 0.98 and tags.team = 'vision' or tags.team = 'ml'", [2]),
        ("tags.team = 'vision' or tags.team = 'ml' and metrics.accuracy > 0.98", [1, 2]),
        ("(tags.team = 'vision' or tags.team = 'ml') and metrics.accuracy > 0.98", [2]),
        ("metrics.accuracy >= 0.99", [2, 3]),
        ("metrics.accuracy < 0.99", [1]),
        ("metrics.accuracy <= 0.99", [1, 2]),
        ("version != 2", [1, 3, 4]),
        ("tags.team != 'ops'", [1, 2, 4]),  # missing counts as different, as in SQL's IS NOT
        ("not tags.team = 'ops'", [1, 2, 4]),
        ("tags.n > 5", [3]),  # tags are text; compared with a number they are read as numbers
        ("tags.team = null", [4]),
        ("tags.team != null", [1, 2, 3]),
        ("aliases = 'champion'", [2]),
        ("description like 'base%'", [4]),
        ("tags.team like '_l'", [2]),
    ],
)
def test_filters(where, expected):
    assert matching(where) == expected


def test_keywords_are_case_insensitive():
    assert matching("version = 1 OR version == 3 AnD NOT version = 2") == [1, 3]


def test_quotes_can_be_doubled():
    pred = parse_where("description = 'it''s'", VERSION_FIELDS, VERSION_MAPS)
    assert pred({"description": "it's"})
    assert not pred({"description": "its"})


def test_dates_compare_as_iso_text():
    pred = parse_where("created_at >= '2026-01-01'", VERSION_FIELDS, VERSION_MAPS)
    assert pred({"created_at": datetime(2026, 3, 1, tzinfo=timezone.utc)})
    assert not pred({"created_at": datetime(2025, 3, 1, tzinfo=timezone.utc)})


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("", "the filter is empty"),
        ("metrics.accuracy >", "at position 19: expected a value after '>'"),
        ("metrics.accuracy 0.9", "expected a comparison"),
        ("accuracy > 0.9", "unknown field 'accuracy'; fields: model, version"),
        ("(version = 1", "expected ')'"),
        ("version = 1 version = 2", "expected 'and', 'or' or the end, got 'version'"),
        ("version = 1 and", "expected a field such as metrics.accuracy, got 'the end'"),
        ("version ~ 1", "unexpected character '~'"),
        ("version > null", "null can only be compared with = or !="),
        ("description like 3", "like needs a 'text' pattern"),
    ],
)
def test_errors_are_one_line_with_the_position(where, message):
    with pytest.raises(UsageError) as info:
        parse_where(where, VERSION_FIELDS, VERSION_MAPS)
    assert message in info.value.message
    assert "\n" not in info.value.message
    assert info.value.hint and "metrics.accuracy > 0.98" in info.value.hint


def test_sort_missing_values_last_both_ways():
    records = [{"v": i, "metrics": m} for i, m in enumerate([{"a": 2}, {}, {"a": 3}, {"a": 1}])]
    as_dict = lambda r: r  # noqa: E731
    up = apply(records, as_dict, sort=parse_sort("metrics.a", ("v",), ("metrics",)))
    down = apply(records, as_dict, sort=parse_sort("metrics.a:desc", ("v",), ("metrics",)))
    assert [r["v"] for r in up] == [3, 0, 2, 1]
    assert [r["v"] for r in down] == [2, 0, 3, 1]
    top = apply(records, as_dict, sort=parse_sort("metrics.a:desc", ("v",), ("metrics",)), limit=1)
    assert [r["v"] for r in top] == [2]
    assert [r["v"] for r in apply(records, as_dict, limit=2)] == [2, 3]  # unsorted: the last N


def test_sort_errors():
    with pytest.raises(UsageError, match="direction must be asc or desc"):
        parse_sort("version:down", VERSION_FIELDS, VERSION_MAPS)
    with pytest.raises(UsageError, match="invalid --sort 'speed': unknown field"):
        parse_sort("speed", VERSION_FIELDS, VERSION_MAPS)


def test_nesting_is_bounded_with_a_one_line_error():
    from mlkit.registry.query import MAX_DEPTH

    fine = "(" * MAX_DEPTH + "version = 1" + ")" * MAX_DEPTH
    assert filter_versions([], where=fine) == []
    assert filter_versions([], where="not " * MAX_DEPTH + "version = 1") == []
    for deep in (
        "(" * 500 + "version = 1" + ")" * 500,
        "not " * 5000 + "version = 1",
        "(" * 100_000,
    ):
        with pytest.raises(UsageError) as info:
            filter_versions([], where=deep)
        message = info.value.message
        assert f"nest more than {MAX_DEPTH} deep" in message
        assert len(message) < 200 and "\n" not in message
