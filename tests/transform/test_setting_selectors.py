"""A settings change rebuilds every model that reads it: dbt_project/selectors.yml has one selector per group
of settings (`settings_<group>`), and this test checks each against the code — every model whose SQL, or any
macro it calls, reads one of the group's vars is listed, and nothing else (the issue: `--select
int_rule_hits_mql+` after changing mql_min_engagement_score skipped int_mql_crossings, which reads it too)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

DBT = str(Path(sys.executable).parent / "dbt")
VAR = re.compile(r"""(?<![\w.])var\(\s*['"](\w+)['"]""")
# Read by (nearly) every model, or per run: a change to them means a full `dbt build --full-refresh`.
TECHNICAL = {"as_of", "incremental_lookback_hours", "rebuilt_table_statistics_target"}


def _dbt(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADFLOW_PG", "DBT_"))}
    env.update({"DBT_TARGET_PATH": str(tmp / "target"), "DBT_LOG_PATH": str(tmp / "logs")})
    result = subprocess.run(
        [DBT, "--no-use-colors", *args], cwd=REPO / "dbt_project", env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("selectors")
    _dbt(tmp, "parse")
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    macros = {k: v for k, v in manifest["macros"].items() if v["package_name"] == "leadflow"}

    def macro_vars(uid: str, seen: set) -> set:
        if uid in seen or uid not in macros:
            return set()
        seen.add(uid)
        found = set(VAR.findall(macros[uid]["macro_sql"]))
        for called in macros[uid]["depends_on"]["macros"]:
            found |= macro_vars(called, seen)
        return found

    readers: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["package_name"] != "leadflow":
            continue
        read = set(VAR.findall(node["raw_code"]))
        for called in node["depends_on"]["macros"]:
            read |= macro_vars(called, set())
        for name in read:
            readers.setdefault(name, set()).add(node["name"])
    selectors = {s["name"]: s for s in yaml.safe_load((REPO / "dbt_project/selectors.yml").read_text())["selectors"]}
    return {"tmp": tmp, "readers": readers, "selectors": selectors}


def _groups(selectors: dict) -> dict[str, tuple[list[str], set[str]]]:
    groups = {}
    for name, selector in selectors.items():
        if name.startswith("settings_"):
            settings = re.search(r"Reads: ([\w, ]+)\.$", selector["description"]).group(1).split(", ")
            models = {part["value"] for part in selector["definition"]["union"]}
            assert all(part["children"] is True for part in selector["definition"]["union"]), name
            groups[name] = (settings, models)
    return groups


def test_every_setting_a_model_reads_belongs_to_one_selector(project) -> None:
    groups = _groups(project["selectors"])
    assert len(groups) >= 8
    owners: dict[str, list[str]] = {}
    for name, (settings, _) in groups.items():
        for setting in settings:
            owners.setdefault(setting, []).append(name)
    read = set(project["readers"]) - TECHNICAL
    assert read, "no var read by any model: the scan is broken"
    assert {s: o for s, o in owners.items() if len(o) > 1} == {}
    assert sorted(read - set(owners)) == [], "settings read by models but in no settings_<group> selector"
    declared = yaml.safe_load((REPO / "dbt_project/dbt_project.yml").read_text())["vars"]
    assert set(owners) <= set(declared), "a selector names a setting dbt_project.yml does not have"


def test_each_selector_lists_exactly_the_models_that_read_its_settings(project) -> None:
    for name, (settings, models) in _groups(project["selectors"]).items():
        expected = set().union(*(project["readers"].get(s, set()) for s in settings))
        assert models == expected, f"{name}: missing {sorted(expected - models)}, stale {sorted(models - expected)}"


def test_dbt_resolves_the_mql_selector_to_the_incremental_crossings_and_everything_downstream(project) -> None:
    listed = set(
        _dbt(
            project["tmp"], "ls", "--selector", "settings_mql", "--resource-type", "model", "--output", "name"
        ).stdout.split()
    )
    assert {"int_rule_hits_mql", "int_mql_crossings", "qualified_leads", "outreach_queue", "funnel_daily"} <= listed
    assert "stg_crm__leads" not in listed
