"""The server-side SVG charts: well-formed, drawn where there is data, explicit where there is none."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest

from listings_pipeline.status_page import chart
from listings_pipeline.status_page.schemas import ApiHour, FeedDay

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 3, 1, 22, tzinfo=UTC)


def _hours(*calls: tuple[int, int, int, float | None]) -> list[ApiHour]:
    return [
        ApiHour(
            hour=T0 + timedelta(hours=n),
            calls=c,
            throttled=t,
            failed=f,
            avg_latency_ms=lat / 2 if lat else None,
            p95_latency_ms=lat,
        )
        for n, (c, t, f, lat) in enumerate(calls)
    ]


def _classes(svg: str, tag: str) -> list[str]:
    root = ET.fromstring(svg)
    return [el.get("class", "") for el in root.iter(f"{SVG}{tag}")]


def test_api_chart_draws_three_panels() -> None:
    svg = chart.api_chart(_hours((10, 0, 0, 200.0), (0, 0, 0, None), (10, 3, 3, 900.0), (5, 0, 1, 300.0)))
    root = ET.fromstring(svg)
    assert root.get("id") == "api-chart" and root.get("role") == "img"
    assert root.find(f"{SVG}title") is not None and "2026-03-01 22:00 to 2026-03-02 01:00 UTC" in svg
    assert _classes(svg, "rect") == ["throttled"]  # one hour had throttles
    # the empty hour breaks the line: the first hour is a lone dot, the last two are joined
    success_lines = [el for el in root.iter(f"{SVG}polyline") if el.get("class") == "success"]
    assert [len((el.get("points") or "").split()) for el in success_lines] == [2]
    assert sorted(set(_classes(svg, "polyline"))) == ["latency-avg", "latency-p95", "success"]
    assert _classes(svg, "circle").count("success-dot") == 3
    for colour in (chart.SUCCESS, chart.THROTTLE, chart.LATENCY):
        assert colour in svg
    # every tick says its hour; the date is written under the first tick and where it changes
    ticks = [
        (el.get("x"), el.text) for el in root.iter(f"{SVG}text") if el.get("class") in ("tick", "tick date")
    ]
    axis = [(x, text) for x, text in ticks if text and (text.endswith(":00") or text.startswith("2026"))]
    x = [x for x, text in axis if text == "22:00"] + [x for x, text in axis if text == "00:00"]
    assert [text for _, text in axis] == ["22:00", "2026-03-01", "23:00", "00:00", "2026-03-02", "01:00"]
    assert [x for x, text in axis if text.startswith("2026")] == x  # each date under its tick
    assert ticks[-1] == (str(chart.WIDTH - chart.RIGHT), "UTC")


def test_api_chart_without_calls_says_so() -> None:
    svg = chart.api_chart(_hours((0, 0, 0, None), (0, 0, 0, None)))
    assert "No SP-API calls recorded from 2026-03-01 22:00 to 2026-03-01 23:00 UTC." in svg
    assert _classes(svg, "rect") == [] and _classes(svg, "polyline") == []
    ET.fromstring(chart.api_chart([]))


def test_feed_chart_stacks_accepted_over_invalid() -> None:
    days = [
        FeedDay(
            day=date(2026, 3, n),
            feeds=1,
            feeds_done=1,
            feeds_fatal=0,
            feeds_cancelled=0,
            feeds_pending=0,
            messages_accepted=a,
            messages_invalid=i,
            avg_processing_seconds=60.0,
        )
        for n, (a, i) in enumerate([(90, 10), (0, 0), (40, 0)], start=1)
    ]
    svg = chart.feed_chart(days)
    assert _classes(svg, "rect").count("accepted") == 2 and _classes(svg, "rect").count("invalid") == 2
    # days, with the year under the first one
    texts = [
        el.text for el in ET.fromstring(svg).iter(f"{SVG}text") if el.get("class") in ("tick", "tick date")
    ]
    assert [t for t in texts if t and ("-" in t or (t.isdigit() and len(t) == 4))] == [
        "03-01",
        "2026",
        "03-02",
        "03-03",
    ]
    assert days[0].acceptance_rate == pytest.approx(0.9) and days[1].acceptance_rate is None
    assert "No feed results" in chart.feed_chart(days[1:2])


def test_text_is_escaped() -> None:
    svg = chart._svg("x", "<b>&", "d", 10, [])
    assert "&lt;b&gt;&amp;" in svg
    ET.fromstring(svg)


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1), (0.3, 0.5), (1, 1), (7, 10), (12, 20), (240, 250), (1001, 2000)]
)
def test_nice_ceiling(value: float, expected: float) -> None:
    assert chart.nice_ceiling(value) == pytest.approx(expected)
