"""What `leadflow profile` and `leadflow run` advise when the rules qualify nothing: the settings line they print
runs as printed (valid YAML for --vars, quoted for the shell) and says what the fit model will read."""

from __future__ import annotations

import re
import shlex

import yaml

from leadflow.profile import how_to_qualify

RULES = [{"qualification_type": t, "qualified_now": 0, "can_fire": False, "why": "..."} for t in ("mql", "sql")]


def _report(lead_sources, quiz_roles, engagement_leads=0, won=12) -> dict:
    return {
        "rules": RULES,
        "fit_values": {"lead_source": lead_sources, "quiz_role": quiz_roles},
        "signal_families": {"engagement (marketing, web behaviour)": engagement_leads},
        "leads_won": won,
    }


def _row(value: str, points: int) -> dict:
    return {"value": value, "leads": 100, "won": 10, "won_share": 0.1, "lift": 1.6, "suggested_points": points}


def _vars(step: str) -> dict:
    [line] = [x.strip() for x in step.splitlines() if x.strip().startswith("leadflow run --vars")]
    argv = shlex.split(line)
    assert argv[:3] == ["leadflow", "run", "--vars"] and len(argv) == 4
    return yaml.safe_load(argv[3])


def test_one_line_carries_lead_sources_and_quiz_roles_and_fit_alone_without_behaviour() -> None:
    steps = how_to_qualify(
        _report([_row("partner's list", 40), _row("ads", 0)], [_row("c++ dev (lead)", 20)]), {"mql_min_fit_score": 40}
    )
    settings = _vars(steps[0])
    assert settings["fit_lead_source_points"] == {"partner's list": 40}  # a quote survives the shell
    assert settings["mql_min_engagement_score"] == 0  # nothing behavioural was loaded: MQL on fit alone
    [(pattern, points)] = settings["fit_quiz_role_points"].items()
    assert points == 20 and re.fullmatch(pattern, "c++ dev (lead)") and not re.fullmatch(pattern, "cc dev lead")
    assert "dbt_project/seeds/fit_lead_sources.csv and dbt_project/seeds/fit_quiz_roles.csv" in steps[0]
    assert steps[1].startswith("learn a score from your 12 won leads: `leadflow model train`")


def test_with_behaviour_loaded_the_engagement_threshold_is_left_alone() -> None:
    steps = how_to_qualify(_report([_row("referral", 20)], [], engagement_leads=50), {"mql_min_fit_score": 40})
    assert _vars(steps[0]) == {"fit_lead_source_points": {"referral": 20}}
    assert "fit alone" not in steps[0]


def test_without_strong_values_or_outcomes_it_asks_for_outcomes() -> None:
    steps = how_to_qualify(_report([_row("ads", 0)], [], won=0), {})
    assert steps[0].startswith("load the outcomes (won opportunities, crm.opportunity)")


def test_nothing_to_advise_when_something_qualifies() -> None:
    report = _report([_row("referral", 40)], [])
    report["rules"] = [{**RULES[0], "qualified_now": 3}]
    assert how_to_qualify(report, {}) == []
