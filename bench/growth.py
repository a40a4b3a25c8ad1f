"""How each stage's time grows with data: the runs of one `make bench SCALE=1,3,10` side by side.

For every stage: wall seconds per scale, and the growth exponent k in time ∝ rows^k between the
smallest and the largest scale (1 = linear, < 1 = fixed costs still dominate, > 1 = worse than linear).
For the incremental stage the rows are the new events, so k near 1 means cost follows new data only.
"""

from __future__ import annotations

import math


def exponent(rows_small: float, secs_small: float, rows_large: float, secs_large: float) -> float | None:
    """k in seconds ∝ rows^k through two points; None when either point cannot say."""
    if min(rows_small, secs_small, rows_large, secs_large) <= 0 or rows_large == rows_small:
        return None
    return math.log(secs_large / secs_small) / math.log(rows_large / rows_small)


def growth_table(runs: list[dict]) -> str:
    """Markdown table of every stage across the runs (each a bench/run.py results dict)."""
    runs = sorted(runs, key=lambda r: r["meta"]["scale"])
    scales = [r["meta"]["scale"] for r in runs]
    header = " | ".join(f"scale {s:g} s" for s in scales)
    lines = [
        f"# leadflow benchmark — growth over scales {', '.join(f'{s:g}' for s in scales)}",
        "",
        "| scale | leads | source records |",
        "|---:|---:|---:|",
        *(f"| {r['meta']['scale']:g} | {r['meta']['leads']:,} | {r['meta']['records']:,} |" for r in runs),
        "",
        f"| stage | {header} | ratio to floor | growth k (time ∝ rows^k) |",
        "|---|" + "---:|" * len(scales) + "---|---:|",
    ]
    stage_names = list(dict.fromkeys(s["stage"] for r in runs for s in r["stages"]))
    for name in stage_names:
        by_scale = [next((s for s in r["stages"] if s["stage"] == name), None) for r in runs]
        cells = [f"{s['seconds']:.1f}" if s else "–" for s in by_scale]
        ratios = " → ".join(f"{s['ratio']}" for s in by_scale if s and s.get("ratio") is not None) or "–"
        present = [s for s in by_scale if s]
        k = exponent(present[0]["rows"], present[0]["seconds"], present[-1]["rows"], present[-1]["seconds"])
        lines.append(f"| {name} | {' | '.join(cells)} | {ratios} | {'–' if k is None else f'{k:.2f}'} |")
    return "\n".join(lines) + "\n"
