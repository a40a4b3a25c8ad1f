"""Run the dbt project that computes staging, scoring and qualification tables."""
