"""Filter expressions: grammar, normal form, parameter binding, errors and evaluation.

Evaluation runs on a small hand-made table whose answers are known; the parser is also fed
random valid expressions (normal form round trip) and random text (only FilterError escapes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import random
from collections.abc import Callable

import numpy as np
import pytest

from core.errors import ReelRankError
from serving import filter_expr
from serving.filter_expr import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TERMS,
    FilterError,
    FilterExpr,
    FilterSyntaxError,
    parse,
)
from serving.video_table import VideoTable

NOW = 1_700_000_000.0
DAY = 86_400.0
NAN = math.nan


def _table() -> VideoTable:
    """Five videos; video 3 knows nothing but its id."""
    language = np.empty(5, dtype=object)
    language[:] = ["en", "fr", None, "en", "de"]
    titles = np.empty(5, dtype=object)
    titles[:] = ["one", "two", "three", "four", "five"]
    return VideoTable(
        ids=np.array([1, 2, 3, 4, 5], dtype=np.int64),
        channel_id=np.array([10, 10, -1, 20, 20], dtype=np.int64),
        duration_s=np.array([300.0, 5400.0, NAN, 1200.0, 60.0]),
        release_year=np.array([2021.0, 1999.0, NAN, 2020.0, 2024.0]),
        published_at=np.array([NOW - DAY, NOW - 30 * DAY, NAN, NOW - 7 * DAY, NOW - DAY / 2]),
        language=language,
        genres=(
            frozenset({"Drama", "Comedy"}),
            frozenset({"Drama"}),
            frozenset(),
            frozenset({"Documentary"}),
            frozenset({"Comedy", "Animation"}),
        ),
        titles=titles,
    )


TABLE = _table()
ALL_ROWS = np.arange(len(TABLE))


def _passing(
    text: str, params: dict[str, object] | None = None, completed: frozenset[int] = frozenset()
) -> list[int]:
    mask = parse(text).mask(TABLE, ALL_ROWS, params or {}, completed, NOW)
    assert mask.dtype == bool and mask.shape == ALL_ROWS.shape
    return TABLE.ids[mask].tolist()


# ---- evaluation on known answers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("genre = 'Drama'", [1, 2]),
        ("genre != 'Drama'", [3, 4, 5]),
        ("genre in ('Comedy', 'Documentary')", [1, 4, 5]),
        ("genre not in ('Comedy', 'Documentary')", [2, 3]),
        ("genre in ('Western')", []),
        ("language = 'en'", [1, 4]),
        ("language != 'en'", [2, 3, 5]),
        ("language in ('fr', 'de')", [2, 5]),
        ("language not in ('fr', 'de')", [1, 3, 4]),
        ("duration_s = 300", [1]),
        ("duration_s != 300", [2, 3, 4, 5]),
        ("duration_s < 300", [5]),
        ("duration_s <= 300", [1, 5]),
        ("duration_s > 1200", [2]),
        ("duration_s >= 1200", [2, 4]),
        ("duration_s between 60 and 1200", [1, 4, 5]),
        ("duration_s not between 60 and 1200", [2, 3]),
        ("duration_s between 1200 and 60", []),
        ("duration_s in (60, 5400)", [2, 5]),
        ("duration_s not in (60, 5400)", [1, 3, 4]),
        ("release_year >= 2020", [1, 4, 5]),
        ("release_year < 2000", [2]),
        ("release_year between 2020 and 2021.5", [1, 4]),
        ("published_within_days <= 7", [1, 4, 5]),
        ("published_within_days < 7", [1, 5]),
        ("published_within_days > 7", [2]),
        ("published_within_days between 0.75 and 1", [1]),
        ("channel_id = 10", [1, 2]),
        ("channel_id != 10", [3, 4, 5]),
        ("channel_id < 15", [1, 2]),
        ("channel_id >= -5", [1, 2, 4, 5]),
        ("channel_id in (20, 30)", [4, 5]),
        ("channel_id in (-1)", []),
        ("channel_id not in (20)", [1, 2, 3]),
        ("channel_id between 10 and 20", [1, 2, 4, 5]),
        ("video_id = 3", [3]),
        ("video_id in (1, 3, 99)", [1, 3]),
        ("video_id > 3", [4, 5]),
        ("video_id <= 2", [1, 2]),
        ("video_id between 2 and 4", [2, 3, 4]),
    ],
)
def test_each_operator_on_each_field(text: str, expected: list[int]) -> None:
    assert _passing(text) == expected


def test_unknown_values_match_no_comparison_but_match_their_negations() -> None:
    for text in (
        "genre = 'Drama'",
        "language = 'en'",
        "duration_s >= 0",
        "duration_s < 1e9",
        "release_year != 0",
        "published_within_days > -1e9",
        "channel_id != 10",
    ):
        passing = 3 in _passing(text)
        negated = 3 in _passing(f"not ({text})")
        assert passing != negated, text
    assert 3 not in _passing("duration_s >= 0 or duration_s < 0")
    assert 3 in _passing("duration_s != 300 and release_year != 2021")


def test_completed_is_the_given_set_of_video_ids() -> None:
    assert _passing("completed", completed=frozenset({2, 4, 99})) == [2, 4]
    assert _passing("not completed", completed=frozenset({2, 4, 99})) == [1, 3, 5]
    assert _passing("not completed") == [1, 2, 3, 4, 5]
    assert _passing("completed") == []


def test_and_binds_tighter_than_or() -> None:
    assert _passing("language = 'en' or language = 'fr' and duration_s < 1000") == [1, 4]
    assert _passing("(language = 'en' or language = 'fr') and duration_s < 1000") == [1]
    assert _passing("language = 'fr' and duration_s < 1000 or language = 'en'") == [1, 4]
    assert _passing("language = 'fr' and (duration_s < 1000 or language = 'en')") == []


def test_not_binds_tighter_than_and() -> None:
    assert _passing("not language = 'en' and duration_s > 100") == [2]
    assert _passing("not (language = 'en' and duration_s > 100)") == [2, 3, 5]
    assert _passing("not not language = 'en'") == [1, 4]


def test_parentheses_nest() -> None:
    text = "((genre = 'Comedy') and (not (video_id = 5 or (release_year < 2000))))"
    assert _passing(text) == [1]


def test_keywords_and_fields_are_case_insensitive() -> None:
    assert _passing("LANGUAGE = 'en' AND NOT Completed", completed=frozenset({1})) == [4]
    assert _passing("Genre In ('Drama') Or VIDEO_ID Between 5 And 5") == [1, 2, 5]


def test_string_values_are_case_sensitive_and_quotes_double() -> None:
    assert _passing("genre = 'drama'") == []
    assert str(parse("genre = 'it''s'")) == "genre = 'it''s'"
    assert parse("genre = 'it''s'").root == filter_expr.Compare("genre", "=", "it's")


def test_rows_outside_the_table_never_pass() -> None:
    expr = parse("not completed")
    rows = np.array([4, -1, 0, 99, 0, -1])
    got = expr.mask(TABLE, rows, {}, frozenset(), NOW)
    assert got.tolist() == [True, False, True, False, True, False]


def test_mask_on_rows_of_an_empty_table_or_no_rows() -> None:
    expr = parse("not completed")
    assert expr.mask(VideoTable.empty(), np.array([-1, -1]), {}, set(), NOW).tolist() == [
        False,
        False,
    ]
    assert expr.mask(TABLE, np.array([], dtype=np.int64), {}, set(), NOW).tolist() == []


def test_rows_from_table_lookup_feed_the_mask() -> None:
    expr = parse("genre = 'Comedy' and not completed")
    rows = TABLE.rows(np.array([5, 42, 1, 2]))
    got = expr.mask(TABLE, rows, {}, {1}, NOW)
    assert got.tolist() == [True, False, False, False]


def test_published_within_days_follows_the_request_time() -> None:
    expr = parse("published_within_days <= 7")
    assert TABLE.ids[expr.mask(TABLE, ALL_ROWS, {}, set(), NOW + DAY)].tolist() == [1, 5]


# ---- parameters --------------------------------------------------------------------------


def test_example_from_the_issue_with_parameters() -> None:
    text = "genre in $genres and duration_s between $min and $max and not completed"
    params: dict[str, object] = {"genres": ["Drama", "Comedy"], "min": 100, "max": 2000.0}
    assert _passing(text, params) == [1]
    assert _passing(text, params, completed=frozenset({1})) == []
    assert _passing(text, {**params, "min": 0}) == [1, 5]


@pytest.mark.parametrize(
    ("text", "params", "expected"),
    [
        ("language = $lang", {"lang": "fr"}, [2]),
        ("genre = $g", {"g": "Comedy"}, [1, 5]),
        ("genre != $g", {"g": "Comedy"}, [2, 3, 4]),
        ("duration_s < $d", {"d": 301}, [1, 5]),
        ("duration_s < $d", {"d": 300.5}, [1, 5]),
        ("duration_s < $d", {"d": "300.5"}, [1, 5]),
        ("duration_s < $d", {"d": np.float32(300.5)}, [1, 5]),
        ("duration_s < $d", {"d": math.inf}, [1, 2, 4, 5]),
        ("release_year = $y", {"y": np.int64(2020)}, [4]),
        ("channel_id = $channel", {"channel": 20}, [4, 5]),
        ("channel_id = $channel", {"channel": 20.0}, [4, 5]),
        ("channel_id = $channel", {"channel": "20"}, [4, 5]),
        ("video_id between $lo and $hi", {"lo": 2, "hi": "3"}, [2, 3]),
        ("genre in $g", {"g": ["Drama"]}, [1, 2]),
        ("genre in $g", {"g": ("Animation", "Documentary")}, [4, 5]),
        ("genre in $g", {"g": {"Comedy"}}, [1, 5]),
        ("genre in $g", {"g": []}, []),
        ("genre not in $g", {"g": []}, [1, 2, 3, 4, 5]),
        ("language in $l", {"l": ["de", "xx"]}, [5]),
        ("video_id in $ids", {"ids": [1, "3", 4.0]}, [1, 3, 4]),
        ("video_id in $ids", {"ids": np.array([2, 5])}, [2, 5]),
        ("release_year in $y", {"y": [2020, "2024"]}, [4, 5]),
        ("genre in ($a, 'Drama')", {"a": "Animation"}, [1, 2, 5]),
        ("language = $lang", {"lang": "en", "unused": object()}, [1, 4]),
    ],
)
def test_parameters_of_each_type(text: str, params: dict[str, object], expected: list[int]) -> None:
    assert _passing(text, params) == expected


def test_fields_and_params_list_what_the_filter_reads() -> None:
    expr = parse("genre in $genres and duration_s between $min and $max and not completed")
    assert expr.fields == frozenset({"genre", "duration_s", "completed"})
    assert expr.params == frozenset({"genres", "min", "max"})
    expr = parse("video_id in (1, $x) or channel_id = 3 or language != $lang")
    assert expr.fields == frozenset({"video_id", "channel_id", "language"})
    assert expr.params == frozenset({"x", "lang"})


def test_bind_checks_parameters_once_for_many_masks() -> None:
    bound = parse("channel_id = $c and not completed").bind({"c": 10})
    assert str(bound) == "channel_id = 10 and not completed"
    assert TABLE.ids[bound.mask(TABLE, ALL_ROWS, {1}, NOW)].tolist() == [2]
    assert TABLE.ids[bound.mask(TABLE, ALL_ROWS, set(), NOW)].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("text", "params", "message"),
    [
        ("duration_s between $min and $max", {}, "filter parameter $max, $min is not given"),
        ("duration_s between $min and $max", {"min": 1}, "filter parameter $max is not given"),
        (
            "language = $lang",
            {"lang": 5},
            "filter parameter $lang: language needs a string, got 5 (int)",
        ),
        (
            "genre = $g",
            {"g": ["Drama"]},
            "filter parameter $g: genre needs a string, got ['Drama'] (list)",
        ),
        (
            "duration_s > $d",
            {"d": "abc"},
            "filter parameter $d: duration_s needs a number, got 'abc' (str)",
        ),
        (
            "duration_s > $d",
            {"d": True},
            "filter parameter $d: duration_s needs a number, got True (bool)",
        ),
        (
            "duration_s > $d",
            {"d": math.nan},
            "filter parameter $d: duration_s needs a number, got nan (float)",
        ),
        (
            "duration_s > $d",
            {"d": None},
            "filter parameter $d: duration_s needs a number, got None (NoneType)",
        ),
        (
            "duration_s > $d",
            {"d": [1]},
            "filter parameter $d: duration_s needs a number, got [1] (list)",
        ),
        (
            "channel_id = $c",
            {"c": 3.5},
            "filter parameter $c: channel_id needs an integer, got 3.5 (float)",
        ),
        (
            "video_id = $v",
            {"v": 2**70},
            "filter parameter $v: video_id needs an integer, got 1180591620717411303424 (int)",
        ),
        (
            "genre in $g",
            {"g": "Drama"},
            "filter parameter $g must be a list for 'genre in', got 'Drama' (str)",
        ),
        (
            "video_id in $ids",
            {"ids": 7},
            "filter parameter $ids must be a list for 'video_id in', got 7 (int)",
        ),
        (
            "genre in $g",
            {"g": ["Drama", 3]},
            "filter parameter $g: genre needs a string, got 3 (int)",
        ),
        (
            "video_id in $ids",
            {"ids": [1, "two"]},
            "filter parameter $ids: video_id needs an integer, got 'two' (str)",
        ),
    ],
)
def test_missing_or_mistyped_parameters_are_refused_at_bind_time(
    text: str, params: dict[str, object], message: str
) -> None:
    expr = parse(text)
    with pytest.raises(FilterError) as caught:
        expr.bind(params)
    assert str(caught.value) == message
    assert not isinstance(caught.value, FilterSyntaxError)
    with pytest.raises(FilterError):
        expr.mask(TABLE, ALL_ROWS, params, set(), NOW)


# ---- syntax errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("", 1, "empty filter: expected a condition such as genre = 'Drama'"),
        ("  \t ", 1, "empty filter: expected a condition such as genre = 'Drama'"),
        (
            "(genre = 'x'",
            13,
            "expected ')' to close the '(' at column 1, found the end of the filter",
        ),
        (
            "((genre = 'x') or completed",
            28,
            "expected ')' to close the '(' at column 1, found the end of the filter",
        ),
        ("genre = 'x')", 12, "unbalanced ')': no '(' to close"),
        ("(completed))", 12, "unbalanced ')': no '(' to close"),
        ("()", 2, "expected a field name, 'not' or '(', found ')'"),
        (
            "bogus = 1",
            1,
            "unknown field 'bogus'; fields are channel_id, completed, duration_s, genre, "
            "language, published_within_days, release_year, video_id",
        ),
        ("completed and Title = 'x'", 15, "unknown field 'Title'"),
        (
            "genre = 'x' and",
            16,
            "expected a field name, 'not' or '(', found the end of the filter",
        ),
        (
            "genre = 'x' garbage",
            13,
            "expected 'and', 'or' or the end of the filter, found 'garbage'",
        ),
        ("completed completed", 11, "expected 'and', 'or' or the end of the filter"),
        ("and = 1", 1, "expected a field name, 'not' or '(', found 'and'"),
        ("genre < 'x'", 7, "genre can only be compared with =, !=, in and not in"),
        ("language >= 'en'", 10, "language can only be compared with =, !=, in and not in"),
        ("genre between 'a' and 'b'", 7, "genre can only be compared with =, !=, in and not in"),
        ("duration_s = 'x'", 14, "duration_s needs a number, got the string 'x'"),
        ("video_id in (1, '2')", 17, "video_id needs an integer, got the string '2'"),
        ("language = 5", 12, "language needs a string, got 5 (int)"),
        ("channel_id = 1.5", 14, "channel_id needs an integer, got 1.5 (float)"),
        ("completed = 1", 11, "'completed' is a flag: write 'completed' or 'not completed'"),
        ("completed in (1)", 11, "'completed' is a flag"),
        ("genre in 'a'", 10, "expected '(' or a $parameter after 'in', found the string 'a'"),
        (
            "genre in ('a' 'b')",
            15,
            "expected ',' or ')' to close the list opened at column 10, found the string 'b'",
        ),
        ("genre in ()", 11, "expected a number, a 'string' or a $parameter, found ')'"),
        ("genre in ('a',)", 15, "expected a number, a 'string' or a $parameter, found ')'"),
        (
            "duration_s between 1 or 2",
            22,
            "expected 'and' in 'between ... and ...', found 'or'",
        ),
        (
            "duration_s between 1 and",
            25,
            "expected a number, a 'string' or a $parameter, found the end of the filter",
        ),
        ("genre not = 'a'", 11, "expected 'in' or 'between' after 'not', found '='"),
        (
            "genre 'a'",
            7,
            "expected an operator after 'genre' (=, !=, <, <=, >, >=, in, between), "
            "found the string 'a'",
        ),
        ("genre = 'abc", 9, "unterminated string: expected a closing quote"),
        ("genre = #", 9, "unexpected character '#'"),
        ("duration_s = 1 - 2", 16, "unexpected character '-'"),
        ("genre = $", 9, "expected a parameter name after '$'"),
        ("genre = $1", 9, "expected a parameter name after '$'"),
        ("duration_s > 1e999", 14, "number 1e999 is out of range"),
        ("video_id = 99999999999999999999", 12, "number 99999999999999999999 is out of range"),
        ('genre = "Drama"', 9, "unexpected character '\"'"),
    ],
)
def test_syntax_errors_say_where_and_what_was_expected(
    text: str, column: int, message: str
) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)
    assert caught.value.column == column
    assert str(caught.value).startswith(f"filter column {column}: {message}")


def test_errors_are_reelrank_errors() -> None:
    assert issubclass(FilterSyntaxError, FilterError)
    assert issubclass(FilterError, ReelRankError)


def test_too_long_is_refused_before_parsing() -> None:
    text = "completed or " * 39 + "completed"
    assert len(text) == 516
    with pytest.raises(FilterSyntaxError) as caught:
        parse(text)
    assert str(caught.value) == f"filter: too long: 516 characters, at most {MAX_LENGTH}"
    assert caught.value.column is None
    assert parse(" " * (MAX_LENGTH - len("completed")) + "completed").fields == {"completed"}


@pytest.mark.parametrize(
    "nest",
    [
        lambda n: "not " * n + "completed",
        lambda n: "(" * n + "completed" + ")" * n,
        lambda n: "(not " * (n // 2) + "not " * (n % 2) + "completed" + ")" * (n // 2),
    ],
)
def test_nesting_deeper_than_the_limit_is_refused(nest: Callable[[int], str]) -> None:
    assert parse(nest(MAX_DEPTH)).fields == {"completed"}
    with pytest.raises(FilterSyntaxError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse(nest(MAX_DEPTH + 1))


def test_depth_counts_nesting_not_length() -> None:
    flat = " and ".join(f"(video_id != {i})" for i in range(MAX_DEPTH + 5))
    assert len(parse(flat).root.terms) == MAX_DEPTH + 5  # type: ignore[union-attr]


def test_more_terms_than_the_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # At 512 characters the term limit cannot be reached (a term takes at least 10); it guards
    # a longer length limit.
    monkeypatch.setattr(filter_expr, "MAX_LENGTH", 10_000)
    assert len(parse(" or ".join(["completed"] * MAX_TERMS)).fields) == 1
    with pytest.raises(FilterSyntaxError, match=f"more than {MAX_TERMS} terms") as caught:
        parse(" or ".join(["completed"] * (MAX_TERMS + 1)))
    assert caught.value.column == MAX_TERMS * len("completed or ") + 1


# ---- normal form -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("GENRE IN ('a','b')AND NOT completed", "genre in ('a', 'b') and not completed"),
        ("((language='en'))", "language = 'en'"),
        (
            "language = 'en' and (release_year < 2000 or (duration_s > 3 and channel_id = 3))",
            "language = 'en' and (release_year < 2000 or duration_s > 3 and channel_id = 3)",
        ),
        (
            "(language='en' and duration_s>1) and (completed and video_id=2)",
            "language = 'en' and duration_s > 1 and completed and video_id = 2",
        ),
        ("(completed or video_id=1) or video_id=2", "completed or video_id = 1 or video_id = 2"),
        ("not (genre = 'a' or genre = 'b')", "not (genre = 'a' or genre = 'b')"),
        ("not (genre = 'a')", "not genre = 'a'"),
        ("not genre in ('a')", "genre not in ('a')"),
        ("not duration_s between 1 and 2", "duration_s not between 1 and 2"),
        ("duration_s == 1e3", "duration_s = 1000"),
        ("duration_s >= .25", "duration_s >= 0.25"),
        ("duration_s >= -7.", "duration_s >= -7"),
        ("duration_s < 1.5e20", "duration_s < 1.5e+20"),
        ("channel_id <> 3.0", "channel_id != 3"),
        ("video_id in $Ids", "video_id in $Ids"),
        ("genre = 'it''s'", "genre = 'it''s'"),
    ],
)
def test_str_prints_a_normal_form(text: str, normal: str) -> None:
    expr = parse(text)
    assert str(expr) == normal
    assert parse(normal) == expr
    assert repr(expr) == f"FilterExpr({normal!r})"


def test_parse_results_are_immutable_equal_and_hashable() -> None:
    text = "genre in $genres and not completed"
    first, second = parse(text), parse(text)
    assert first == second and hash(first) == hash(second)
    assert first == parse("(genre IN $genres) AND (NOT completed)")
    assert first != parse("genre in $genres and completed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.root = second.root  # type: ignore[misc]
    cached = functools.lru_cache(maxsize=16)(parse)
    assert cached(text) is cached(text)


# ---- random expressions and random text --------------------------------------------------

_VALUES = {
    "genre": ["'Drama'", "'Comedy'", "'Animation'", "'it''s'", "$g"],
    "language": ["'en'", "'fr'", "'de'", "$lang"],
    "duration_s": ["60", "300", "1200.5", "1e3", "$lo", "$hi"],
    "release_year": ["1999", "2020", "2021", "$lo"],
    "published_within_days": ["0.5", "7", "30", "$hi"],
    "channel_id": ["10", "20", "-1", "$ch"],
    "video_id": ["1", "3", "5", "$ch"],
}
_LISTS = {"genre": "$gs", "language": "$langs", "video_id": "$ids", "channel_id": "$ids"}
_PARAMS: dict[str, object] = {
    "g": "Comedy",
    "lang": "en",
    "lo": 300,
    "hi": 1500.0,
    "ch": 10,
    "gs": ["Drama", "Animation"],
    "langs": ["fr", "de"],
    "ids": [1, 2, 20],
}


def _random_expression(rng: random.Random, depth: int = 0) -> str:
    """A valid expression with random spacing, case and redundant parentheses."""
    roll = rng.random()
    if depth < 3 and roll < 0.3:
        word = rng.choice(["and", "or", "AND", "Or"])
        parts = [_random_expression(rng, depth + 1) for _ in range(rng.randint(2, 3))]
        text = f" {word} ".join(parts)
    elif depth < 3 and roll < 0.4:
        text = "not " + _random_expression(rng, depth + 1)
    elif roll < 0.45:
        text = "completed"
    else:
        name = rng.choice(sorted(_VALUES))
        values = _VALUES[name]
        ordered = name not in ("genre", "language")
        form = rng.randrange(4)
        if form == 0:
            ops = ["=", "!=", "<>", "=="] + (["<", "<=", ">", ">="] if ordered else [])
            text = f"{name}{rng.choice(['', ' '])}{rng.choice(ops)} {rng.choice(values)}"
        elif form == 1:
            items = ",".join(rng.sample(values, rng.randint(1, len(values))))
            negation = rng.choice(["", "not "])
            text = f"{name} {negation}in ({items})"
        elif form == 2 and name in _LISTS:
            text = f"{name} in {_LISTS[name]}"
        elif ordered:
            low, high = rng.choice(values), rng.choice(values)
            text = f"{name} {rng.choice(['', 'not '])}between {low} and {high}"
        else:
            text = f"{name} = {rng.choice(values)}"
        if rng.random() < 0.1 and not set("'$") & set(text):
            text = text.upper()
    return f"({text})" if rng.random() < 0.25 else text


def _masks(expr: FilterExpr) -> list[bool]:
    rows = np.array([0, 1, 2, 3, 4, -1, 2])
    return expr.mask(TABLE, rows, _PARAMS, {2, 5}, NOW).tolist()


def _check_round_trip(text: str) -> None:
    expr = parse(text)
    normal = str(expr)
    if len(normal) <= MAX_LENGTH:
        again = parse(normal)
        assert again == expr, (text, normal)
        assert str(again) == normal
        assert _masks(again) == _masks(expr)
    negated = parse(f"not ({normal})") if len(normal) + 6 <= MAX_LENGTH else None
    if negated is not None:
        assert _masks(negated)[:5] == [not m for m in _masks(expr)[:5]]


def test_round_trip_of_random_expressions() -> None:
    rng = random.Random(20240610)
    parsed = 0
    for _ in range(1500):
        text = _random_expression(rng)
        try:
            _check_round_trip(text)
            parsed += 1
        except FilterSyntaxError as exc:
            assert "nested deeper" in str(exc) or "too long" in str(exc), (text, exc)
    assert parsed > 1400


_ALPHABET = [
    *"abcdegilnoprstuvy_$'(),=!<>.-0123456789 \t\n#\"é",
    " and ",
    " or ",
    "not ",
    " in ",
    " between ",
    "genre",
    "duration_s",
    "completed",
    "'Drama'",
    "$p",
]


def _check_only_filter_errors(text: str) -> None:
    try:
        expr = parse(text)
    except FilterError:
        return
    for value in (1, "Drama", ["Drama", 2]):
        with contextlib.suppress(FilterError):
            expr.mask(TABLE, ALL_ROWS, {"p": value}, set(), NOW)


def test_random_text_raises_only_filter_errors() -> None:
    rng = random.Random(7)
    for _ in range(4000):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 40)))
        _check_only_filter_errors(text)


def test_mutated_expressions_raise_only_filter_errors() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        chars = list(_random_expression(rng))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(chars) + 1)
            if rng.random() < 0.5 and at < len(chars):
                del chars[at]
            else:
                chars.insert(at, rng.choice(_ALPHABET))
        _check_only_filter_errors("".join(chars))
