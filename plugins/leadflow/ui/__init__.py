"""The "Lead qualification" view in the Airflow UI (see plugins/leadflow_ui.py, the Airflow plugin)."""
