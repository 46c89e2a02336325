"""The query language parser: every clause type, odd input that must not fail, and clear errors."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.search.query import MAX_QUERY_CHARS, QueryError, add_filters, parse_query


def test_plain_words_phrases_and_exclusions() -> None:
    q = parse_query('graph neural "message passing" -survey -"literature review"')
    assert q.words == ["graph", "neural"]
    assert q.phrases == ["message passing"]
    assert q.excluded == ["survey", "literature review"]
    assert q.text == "graph neural message passing"
    assert q.scored_terms == ["graph", "neural", "messag", "pass"]


def test_fields_author_category_year_and_sort() -> None:
    q = parse_query('transformers author:"Yann LeCun" author:bengio cat:cs.LG cat:stat year:2023 sort:date')
    assert q.words == ["transformers"]
    assert q.authors == ["Yann LeCun", "bengio"]
    assert q.categories == ["cs.LG", "stat"]
    assert (q.date_from, q.date_to) == (date(2023, 1, 1), date(2023, 12, 31))
    assert q.sort == "date"


def test_year_ranges_and_partial_dates() -> None:
    assert (parse_query("year:2019-2021").date_from, parse_query("year:2019-2021").date_to) == (
        date(2019, 1, 1),
        date(2021, 12, 31),
    )
    q = parse_query("from:2023-02 to:2024-02")
    assert (q.date_from, q.date_to) == (date(2023, 2, 1), date(2024, 2, 29))
    q = parse_query("from:2023-01-15 to:2023-06-30")
    assert (q.date_from, q.date_to) == (date(2023, 1, 15), date(2023, 6, 30))
    q = parse_query("year:2023 from:2023-06-01")  # both narrow the range
    assert (q.date_from, q.date_to) == (date(2023, 6, 1), date(2023, 12, 31))


@pytest.mark.parametrize(
    "raw, message",
    [
        ("year:abc", "year: expects a year"),
        ("year:2021-2019", "not a valid year range"),
        ("from:2023-13-01", "not a valid date"),
        ("to:yesterday", "to: expects a date"),
        ("cat:'; DROP", "cat: expects an arXiv category"),
        ("sort:best", "sort: expects one of relevance, date, trending"),
        ("from:2024-01-01 to:2023-01-01", "the date range is empty"),
    ],
)
def test_bad_field_values_raise_clear_errors(raw: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "!!!???...",
        '"',
        '"unbalanced quote',
        "((((",
        "a AND b OR NOT c*",
        "title:foo^2",
        "'; DROP TABLE papers; --",
        'NEAR(a b) "x" MATCH',
        "\x00\x01\x7f",
        "-",
        "--",
        "author:",
        "-author:x",
        "x" * 10_000,
        "word " * 5_000,
        "naïve Ångström façade",
        "中文 日本語",
    ],
)
def test_hostile_input_never_raises(raw: str) -> None:
    q = parse_query(raw)
    assert isinstance(q.scored_terms, list)


def test_unbalanced_quote_runs_to_the_end() -> None:
    q = parse_query('neural "message passing')
    assert q.words == ["neural"] and q.phrases == ["message passing"]


def test_engine_syntax_is_just_words() -> None:
    q = parse_query("title:foo AND bar* OR (baz)")
    assert q.scored_terms == ["titl", "foo", "bar", "baz"]
    assert not q.has_constraints


def test_long_queries_are_truncated_with_a_warning() -> None:
    q = parse_query("graph " + "x" * (2 * MAX_QUERY_CHARS))
    assert q.warnings and "truncated" in q.warnings[0]
    q = parse_query(" ".join(f"w{i}" for i in range(500)))
    assert len(q.words) == 64 and any("first 64" in w for w in q.warnings)


def test_punctuation_only_is_empty_and_filters_alone_are_not() -> None:
    assert parse_query("?!... ---").is_empty
    assert parse_query("the of and").is_empty  # stop words only
    assert not parse_query("cat:cs.CL").is_empty


def test_curly_quotes_are_read_as_quotes() -> None:
    assert parse_query("\u201cmessage passing\u201d").phrases == ["message passing"]


def test_negated_fields_are_ignored_with_a_warning() -> None:
    q = parse_query("graphs -cat:cs.CV")
    assert q.categories == [] and "not supported" in q.warnings[0]


def test_add_filters_folds_form_fields_into_the_query() -> None:
    q = add_filters(
        parse_query("graphs year:2023"), categories=["cs.LG", ""], date_from=date(2023, 3, 1), date_to=date(2024, 5, 1)
    )
    assert q.categories == ["cs.LG"]
    assert (q.date_from, q.date_to) == (date(2023, 3, 1), date(2023, 12, 31))
    with pytest.raises(QueryError, match="arXiv category"):
        add_filters(parse_query("x"), categories=["cs CL; --"])
    with pytest.raises(QueryError, match="date range is empty"):
        add_filters(parse_query("year:2020"), date_from=date(2022, 1, 1))
