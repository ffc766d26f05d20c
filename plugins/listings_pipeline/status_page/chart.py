"""The page's charts as inline SVG, drawn on the server.

There is no CDN to load a chart library from (and an operator's browser may have no internet either),
and these charts are simple: small multiples over a shared time axis, one measure per panel so no
panel needs two scales. The SVG scales with its container (``viewBox``) and carries a ``<title>`` and
``<desc>`` for screen readers. Colours are constants so the browser test can look for them.

The time axis says the date under its first tick and wherever the date changes (an hour alone does
not say which day; a month-day alone, which year), and that the times are UTC.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from listings_pipeline.status_page.schemas import ApiHour, FeedDay, HealthPoint, SalesPoint

SUCCESS = "#15803d"  # green: success rate, accepted messages
THROTTLE = "#ea580c"  # orange: throttled calls
LATENCY = "#2563eb"  # blue: p95 latency
LATENCY_AVG = "#93c5fd"  # light blue: mean latency
INVALID = "#dc2626"  # red: invalid messages
TARGET = "#6b7280"  # grey, dashed: Amazon's target
UNITS = "#7c3aed"  # violet: units ordered
SESSIONS = "#0891b2"  # teal: sessions
GRID = "#e5e7eb"
AXIS_TEXT = "#4b5563"

WIDTH = 960
LEFT = 64  # room for the y labels
RIGHT = 16
PANEL_HEIGHT = 92
PANEL_GAP = 34  # the panel's title sits in the gap above it
TOP = 26
AXIS_HEIGHT = 44  # two lines: the tick's time or day, and the date where it changes


@dataclass(frozen=True)
class _Frame:
    """One panel's plotting area and the shared x axis."""

    top: float
    count: int

    @property
    def bottom(self) -> float:
        return self.top + PANEL_HEIGHT

    @property
    def step(self) -> float:
        return (WIDTH - LEFT - RIGHT) / max(self.count, 1)

    def x(self, index: int) -> float:
        return LEFT + self.step * (index + 0.5)

    def y(self, value: float, ceiling: float) -> float:
        return self.bottom - PANEL_HEIGHT * (value / ceiling if ceiling else 0.0)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= factor * power + 1e-9:
            return factor * power
    return 10 * power  # pragma: no cover - the loop always returns


def _fmt(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:g}"


def _panel(frame: _Frame, title: str, ceiling: float, label: Callable[[float], str]) -> list[str]:
    parts = [
        f'<text x="{LEFT}" y="{frame.top - 8:.1f}" class="panel-title">{escape(title)}</text>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = frame.bottom - PANEL_HEIGHT * fraction
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{escape(label(ceiling * fraction))}</text>'
        )
    return parts


def _bars(frame: _Frame, values: Sequence[float], ceiling: float, colour: str, name: str) -> list[str]:
    width = max(frame.step * 0.7, 1.0)
    parts = []
    for index, value in enumerate(values):
        if value <= 0:
            continue
        top = frame.y(value, ceiling)
        parts.append(
            f'<rect class="{name}" x="{frame.x(index) - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{frame.bottom - top:.1f}" fill="{colour}"><title>{escape(_fmt(value))}</title></rect>'
        )
    return parts


def _line(
    frame: _Frame,
    values: Sequence[float | None],
    ceiling: float,
    colour: str,
    name: str,
    *,
    dashed: bool = False,
) -> list[str]:
    """A polyline per run of known values (gaps stay gaps), and a dot on every known value."""
    parts = []
    run: list[str] = []
    dash = ' stroke-dasharray="5 3"' if dashed else ""

    def flush() -> None:
        if len(run) > 1:
            parts.append(
                f'<polyline class="{name}" points="{" ".join(run)}" fill="none" stroke="{colour}" '
                f'stroke-width="2.5"{dash}/>'
            )
        run.clear()

    for index, value in enumerate(values):
        if value is None:
            flush()
            continue
        x, y = frame.x(index), frame.y(min(value, ceiling), ceiling)
        run.append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle class="{name}-dot" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
    flush()
    return parts


def _svg(element_id: str, title: str, description: str, height: float, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg id="{escape(element_id)}" class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
            f'aria-labelledby="{element_id}-title {element_id}-desc" xmlns="http://www.w3.org/2000/svg">',
            f'<title id="{element_id}-title">{escape(title)}</title>',
            f'<desc id="{element_id}-desc">{escape(description)}</desc>',
            "<style>.panel-title{font:600 13px sans-serif;fill:#111827}"
            f".tick{{font:11px sans-serif;fill:{AXIS_TEXT}}}.empty{{font:14px sans-serif;fill:{AXIS_TEXT}}}</style>",
            *body,
            "</svg>",
        ]
    )


@dataclass(frozen=True)
class _Tick:
    label: str
    """What the tick is (``14:00``, ``03-02``)."""
    date: str
    """The date (or year) it belongs to, written under the tick where it differs from the last."""


def _x_axis(frame: _Frame, ticks: Sequence[_Tick | None]) -> list[str]:
    parts = []
    shown_date = None
    for index, tick in enumerate(ticks):
        if tick is None:
            continue
        x = frame.x(index)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.bottom}" y2="{frame.bottom + 4}" stroke="{AXIS_TEXT}"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{frame.bottom + 17:.1f}" text-anchor="middle" class="tick">{escape(tick.label)}</text>'
        )
        if tick.date != shown_date:
            parts.append(
                f'<text x="{x:.1f}" y="{frame.bottom + 32:.1f}" text-anchor="middle" class="tick date">'
                f"{escape(tick.date)}</text>"
            )
            shown_date = tick.date
    parts.append(
        f'<text x="{WIDTH - RIGHT}" y="{frame.bottom + 32:.1f}" text-anchor="end" class="tick">UTC</text>'
    )
    return parts


def api_chart(points: Sequence[ApiHour], *, element_id: str = "api-chart") -> str:
    """Three panels per UTC hour: success rate, throttled calls, and latency (p95 and mean)."""
    first = points[0].hour if points else None
    last = points[-1].hour if points else None
    span = f"{first:%Y-%m-%d %H:00} to {last:%Y-%m-%d %H:00} UTC" if first and last else "no hours"
    description = f"SP-API calls per hour, {span}: success rate, throttled calls and latency."
    if not any(p.calls for p in points):
        height = TOP + 60
        return _svg(
            element_id,
            "SP-API calls per hour",
            description,
            height,
            [
                f'<text x="{WIDTH / 2}" y="{TOP + 24}" text-anchor="middle" class="empty">'
                f"No SP-API calls recorded from {escape(span)}.</text>"
            ],
        )

    count = len(points)
    frames = [_Frame(TOP + n * (PANEL_HEIGHT + PANEL_GAP), count) for n in range(3)]
    success, throttle, latency = frames
    body: list[str] = []

    rates = [None if p.success_rate is None else p.success_rate * 100 for p in points]
    body += _panel(success, "Success rate (% of calls answered below HTTP 400)", 100.0, lambda v: f"{v:.0f}%")
    body += _line(success, rates, 100.0, SUCCESS, "success")

    throttled = [float(p.throttled) for p in points]
    ceiling = nice_ceiling(max(throttled))
    body += _panel(throttle, "Throttled calls (HTTP 429)", ceiling, _fmt)
    body += _bars(throttle, throttled, ceiling, THROTTLE, "throttled")

    p95 = [p.p95_latency_ms for p in points]
    mean = [p.avg_latency_ms for p in points]
    ceiling = nice_ceiling(max([v for v in (*p95, *mean) if v is not None], default=0.0))
    body += _panel(latency, "Latency (ms): p95 of the slowest operation, and mean (dashed)", ceiling, _fmt)
    body += _line(latency, mean, ceiling, LATENCY_AVG, "latency-avg", dashed=True)
    body += _line(latency, p95, ceiling, LATENCY, "latency-p95")

    step = max(1, math.ceil(count / 12))
    ticks = [
        _Tick(f"{p.hour:%H}:00", f"{p.hour:%Y-%m-%d}") if index % step == 0 else None
        for index, p in enumerate(points)
    ]
    body += _x_axis(latency, ticks)
    return _svg(element_id, "SP-API calls per hour", description, latency.bottom + AXIS_HEIGHT, body)


def feed_chart(days: Sequence[FeedDay], *, element_id: str = "feed-chart") -> str:
    """Feed messages per UTC day: accepted and invalid, stacked."""
    span = f"{days[0].day} to {days[-1].day}" if days else "no days"
    description = f"Feed messages per day, {span}: accepted (green) and invalid (red)."
    if not any(d.messages_accepted or d.messages_invalid for d in days):
        return _svg(
            element_id,
            "Feed messages per day",
            description,
            TOP + 60,
            [
                f'<text x="{WIDTH / 2}" y="{TOP + 24}" text-anchor="middle" class="empty">'
                f"No feed results from {escape(span)}.</text>"
            ],
        )
    frame = _Frame(TOP, len(days))
    totals = [float(d.messages_accepted + d.messages_invalid) for d in days]
    ceiling = nice_ceiling(max(totals))
    body = _panel(frame, "Feed messages per day: accepted and invalid", ceiling, _fmt)
    body += _bars(frame, totals, ceiling, INVALID, "invalid")  # the red shows above the green
    body += _bars(frame, [float(d.messages_accepted) for d in days], ceiling, SUCCESS, "accepted")
    step = max(1, math.ceil(len(days) / 14))
    body += _x_axis(
        frame, [_Tick(f"{d.day:%m-%d}", f"{d.day:%Y}") if i % step == 0 else None for i, d in enumerate(days)]
    )
    return _svg(element_id, "Feed messages per day", description, frame.bottom + AXIS_HEIGHT, body)


def _empty(element_id: str, title: str, description: str, message: str) -> str:
    return _svg(
        element_id,
        title,
        description,
        TOP + 60,
        [f'<text x="{WIDTH / 2}" y="{TOP + 24}" text-anchor="middle" class="empty">{escape(message)}</text>'],
    )


def _day_ticks(days: Sequence[date]) -> list[_Tick | None]:
    step = max(1, math.ceil(len(days) / 14))
    return [_Tick(f"{d:%m-%d}", f"{d:%Y}") if i % step == 0 else None for i, d in enumerate(days)]


#: the account health chart's panels: the point's rate and target fields, and the title
HEALTH_PANELS = (
    ("order_defect", "Order defect rate, seller-fulfilled (%), and Amazon's target (dashed)"),
    ("late_shipment", "Late shipment rate (%), and Amazon's target (dashed)"),
    ("cancellation", "Pre-fulfillment cancellation rate (%), and Amazon's target (dashed)"),
)


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


def health_chart(points: Sequence[HealthPoint], *, element_id: str = "health-chart") -> str:
    """Three panels per report date: the worst order defect, late shipment and cancellation rate in
    the filter, each against the target Amazon's report gave (dashed); red where a rate reached it."""
    span = f"{points[0].report_date} to {points[-1].report_date}" if points else "no report"
    title = "Account health over time"
    description = (
        f"Account health per report date, {span}: the worst rate in the filter against Amazon's target."
    )
    if not points:
        return _empty(element_id, title, description, "No account health report loaded yet.")
    frames = [_Frame(TOP + n * (PANEL_HEIGHT + PANEL_GAP), len(points)) for n in range(len(HEALTH_PANELS))]
    body: list[str] = []
    for frame, (name, panel_title) in zip(frames, HEALTH_PANELS, strict=True):
        rates = [_percent(getattr(p, f"{name}_rate")) for p in points]
        targets = [_percent(getattr(p, f"{name}_target")) for p in points]
        known = [v for v in (*rates, *targets) if v is not None]
        ceiling = nice_ceiling(max(known, default=0.0) * 1.25)
        body += _panel(frame, panel_title, ceiling, lambda v: f"{v:g}%")
        body += _line(frame, targets, ceiling, TARGET, "target", dashed=True)
        breached = any(
            r is not None and t is not None and r >= t for r, t in zip(rates, targets, strict=True)
        )
        body += _line(
            frame, rates, ceiling, INVALID if breached else SUCCESS, f"{name.replace('_', '-')}-rate"
        )
    body += _x_axis(frames[-1], _day_ticks([p.report_date for p in points]))
    return _svg(element_id, title, description, frames[-1].bottom + AXIS_HEIGHT, body)


def sales_chart(points: Sequence[SalesPoint], *, element_id: str = "sales-chart") -> str:
    """Three panels per day over the filter: units ordered, sessions, and the buy-box share."""
    span = f"{points[0].day} to {points[-1].day}" if points else "no day"
    title = "Sales and traffic per day"
    description = f"Sales and traffic per day, {span}: units ordered, sessions and buy-box percentage."
    if not points:
        return _empty(element_id, title, description, "No sales and traffic report loaded yet.")
    frames = [_Frame(TOP + n * (PANEL_HEIGHT + PANEL_GAP), len(points)) for n in range(3)]
    units, sessions, buy_box = frames
    ceiling = nice_ceiling(max(float(p.units) for p in points))
    body = _panel(units, "Units ordered", ceiling, _fmt)
    body += _bars(units, [float(p.units) for p in points], ceiling, UNITS, "units")
    ceiling = nice_ceiling(max(float(p.sessions) for p in points))
    body += _panel(sessions, "Sessions", ceiling, _fmt)
    body += _line(sessions, [float(p.sessions) for p in points], ceiling, SESSIONS, "sessions")
    body += _panel(buy_box, "Buy box (% of page views)", 100.0, lambda v: f"{v:.0f}%")
    body += _line(buy_box, [p.buy_box_percentage for p in points], 100.0, SUCCESS, "buy-box")
    body += _x_axis(buy_box, _day_ticks([p.day for p in points]))
    return _svg(element_id, title, description, buy_box.bottom + AXIS_HEIGHT, body)
