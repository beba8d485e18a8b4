"""Bar charts as inline SVG, drawn on the server: no script, no library, nothing to download.
Each bar has a ``<title>`` the browser shows on hover."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape


def bar_chart(
    points: Sequence[tuple[str, int]],
    *,
    width: int = 720,
    height: int = 160,
    label: str = "chart",
    ticks: int = 6,
) -> Markup:
    """``points`` as (label, value), oldest first. Labels are escaped: they may come from data."""
    pad_left, pad_bottom, pad_top = 36, 22, 8
    plot_w = width - pad_left - 4
    plot_h = height - pad_bottom - pad_top
    top = max((v for _, v in points), default=0) or 1
    n = max(1, len(points))
    step = plot_w / n
    bar = max(1.0, step * 0.8)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="{escape(label)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        f'<line class="axis" x1="{pad_left}" y1="{pad_top + plot_h}" '
        f'x2="{width - 4}" y2="{pad_top + plot_h}"/>',
        f'<text class="tick" x="{pad_left - 4}" y="{pad_top + 8}" text-anchor="end">{top}</text>',
        f'<text class="tick" x="{pad_left - 4}" y="{pad_top + plot_h}" text-anchor="end">0</text>',
    ]
    every = max(1, len(points) // ticks)
    for i, (name, value) in enumerate(points):
        h = plot_h * value / top
        x = pad_left + i * step + (step - bar) / 2
        y = pad_top + plot_h - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
            f"<title>{escape(name)}: {value}</title></rect>"
        )
        if i % every == 0:
            parts.append(f'<text class="tick" x="{x:.1f}" y="{height - 6}">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
