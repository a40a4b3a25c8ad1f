"""dbt's exposures of type dashboard point at the plugin's routes and list every mart the report reads."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import yaml

from tests.conftest import REPO


def test_the_report_and_data_docs_are_dashboard_exposures_of_the_marts_they_read() -> None:
    from leadflow.ui.app import URL_PREFIX

    exposures = {
        e["name"]: e
        for e in yaml.safe_load((REPO / "dbt_project/models/marts/_exposures.yml").read_text())["exposures"]
    }
    report, docs = exposures["lead_qualification_report"], exposures["data_quality_docs"]
    assert report["type"] == docs["type"] == "dashboard"
    assert urlsplit(report["url"]).path == f"{URL_PREFIX}/report"
    assert urlsplit(docs["url"]).path == f"{URL_PREFIX}/data-docs/index.html"
    read = set(re.findall(r"marts\.(\w+)", (REPO / "plugins/leadflow/report/queries.py").read_text()))
    declared = {re.fullmatch(r"ref\('(\w+)'\)", d).group(1) for d in report["depends_on"]}
    assert read and read == declared
