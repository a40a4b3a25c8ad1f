"""Quality: dbt's tests own column constraints; the Great Expectations gate (gate.py) checks what dbt does not;
every outcome is a quality run in ops.quality_runs (``record``), which the outreach sync requires."""

from leadflow.quality.runs import dbt_test_outcome, record

__all__ = ["dbt_test_outcome", "record"]
