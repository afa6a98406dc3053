"""Server-rendered chart geometry for inline SVG: the templates draw, this measures."""

from __future__ import annotations

from decimal import Decimal


def funnel_bars(steps: list[tuple[str, int]]) -> list[dict]:
    top = max((count for _label, count in steps), default=0) or 1
    return [
        {"label": label, "count": count, "width": round(100 * count / top, 1)}
        for label, count in steps
    ]


def stacked_weeks(weeks: list[dict], *, height: int = 120) -> dict:
    """Bar heights (in SVG units) for collected and outstanding money per week."""
    top = max((w["collected"] + w["outstanding"] for w in weeks), default=Decimal(0))
    scale = (Decimal(height) / top) if top else Decimal(0)
    bars = []
    for index, week in enumerate(weeks):
        collected = float(week["collected"] * scale)
        outstanding = float(week["outstanding"] * scale)
        bars.append(
            {
                **week,
                "x": index * 40 + 8,
                "collected_h": round(collected, 1),
                "collected_y": round(height - collected, 1),
                "outstanding_h": round(outstanding, 1),
                "outstanding_y": round(height - collected - outstanding, 1),
            }
        )
    return {"bars": bars, "height": height, "width": len(weeks) * 40 + 8, "top": top}
