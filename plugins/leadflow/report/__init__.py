"""The lead-qualification report: one self-contained HTML file from the marts (`leadflow report`, and the end of
every pipeline run), served in the Airflow UI by the `leadflow_ui` plugin."""

from leadflow.report.queries import ReportUnavailable
from leadflow.report.render import render_report, report_path

__all__ = ["ReportUnavailable", "render_report", "report_path"]
