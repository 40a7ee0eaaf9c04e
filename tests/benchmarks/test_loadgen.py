"""The load generator's reading of wrk: figures out of real `wrk --latency` output."""

from __future__ import annotations

from pathlib import Path

from benchmarks.loadgen import lua_string, parse_wrk

DATA = Path(__file__).parent / "data"


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_parse_wrk_reads_rate_and_percentiles() -> None:
    """Requests, req/s, p50 and p99 (in ms) come from wrk's summary and latency lines."""
    figure = parse_wrk(read("wrk_ok.txt"))
    assert (figure.requests, figure.rps, figure.p50_ms, figure.p99_ms) == (
        2456,
        2445.94,
        1.54,
        5.42,
    )


def test_parse_wrk_all_200_is_valid() -> None:
    """A run whose every answer was 200, without socket errors, gives a valid figure."""
    assert parse_wrk(read("wrk_ok.txt")).valid


def test_parse_wrk_refusals_make_the_figure_invalid() -> None:
    """A run answered with 401s counts them as not 200 and is marked invalid."""
    figure = parse_wrk(read("wrk_refused.txt"))
    assert (figure.non_200, figure.valid) == (3154, False)


def test_lua_string_escapes_quotes_and_backslashes() -> None:
    """A header value with quotes and backslashes stays one Lua string literal."""
    assert lua_string('a "b" \\c') == '"a \\"b\\" \\\\c"'
