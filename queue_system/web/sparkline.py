"""A sparkline as SVG points, drawn on the server so the page needs no charting script."""

from __future__ import annotations

WIDTH, HEIGHT = 120, 24


def points(values: list[int], peak: int | None = None) -> str:
    """``x,y`` pairs for an SVG polyline of ``values`` scaled to the box (``peak`` shares a scale)."""
    if not values:
        return ""
    top = max(peak if peak is not None else max(values), 1)
    step = WIDTH / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{HEIGHT - 1 - v / top * (HEIGHT - 2):.1f}" for i, v in enumerate(values))
