"""The growth report turns runs at several scales into per-stage exponents."""

from __future__ import annotations

import pytest

from bench.growth import exponent, growth_table


def _run(scale: float, stages: dict[str, tuple[int, float, float | None]]) -> dict:
    return {
        "meta": {"scale": scale, "leads": int(scale * 10_000), "records": int(scale * 380_000)},
        "stages": [{"stage": n, "rows": r, "seconds": s, "ratio": ratio} for n, (r, s, ratio) in stages.items()],
    }


def test_exponent_is_one_for_linear_and_zero_for_fixed_cost() -> None:
    assert exponent(1_000, 2.0, 10_000, 20.0) == pytest.approx(1.0)
    assert exponent(1_000, 5.0, 10_000, 5.0) == pytest.approx(0.0)
    assert exponent(1_000, 1.0, 10_000, 100.0) == pytest.approx(2.0)
    assert exponent(1_000, 0.0, 10_000, 1.0) is None


def test_growth_table_lists_every_stage_at_every_scale_with_its_exponent() -> None:
    runs = [
        _run(10, {"pull": (3_800_000, 80.0, 2.0), "incremental": (27_000, 9.0, 0.1)}),
        _run(1, {"pull": (380_000, 8.0, 2.5), "incremental": (2_700, 4.5, 0.2)}),
    ]
    table = growth_table(runs)
    assert "growth over scales 1, 10" in table
    assert "| pull | 8.0 | 80.0 | 2.5 → 2.0 | 1.00 |" in table
    assert "| incremental | 4.5 | 9.0 | 0.2 → 0.1 | 0.30 |" in table
