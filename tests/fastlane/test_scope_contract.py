"""The fast lane resolves people through a contracted mart: its queries run on exactly the contract's columns."""

from __future__ import annotations

import psycopg
import yaml

from leadflow.fastlane.scope import IDENTITIES, resolve
from tests.conftest import REPO

MARTS = REPO / "dbt_project" / "models" / "marts"


def _model(name: str) -> dict:
    (model,) = yaml.safe_load((MARTS / f"{name}.yml").read_text())["models"]
    return model


def test_the_identity_map_the_lane_reads_is_a_contracted_mart_it_is_an_exposure_of() -> None:
    schema, name = IDENTITIES.split(".")
    model = _model(name)
    assert schema == "marts" and model["config"]["contract"]["enforced"] is True
    assert all(c.get("data_type") for c in model["columns"])
    exposures = {e["name"]: e for e in yaml.safe_load((MARTS / "_exposures.yml").read_text())["exposures"]}
    assert f"ref('{name}')" in exposures["fast_lane"]["depends_on"]


def test_resolve_reads_only_the_contract_columns(warehouse: str) -> None:
    """The mart built with the contract's columns and nothing else: every query of resolve() runs on it."""
    model = _model(IDENTITIES.split(".")[1])
    columns = ", ".join(f"{c['name']} {c['data_type']}" for c in model["columns"])
    rows = [
        ("email", "ann@example.com", "L1"),
        ("crm_lead_id", "CRM-7", "L1"),
        ("anonymous_id", "anon-1", "L1"),
        ("product_user_id", "u-9", "L1"),
        ("email", "bob@example.com", "L2"),
    ]
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("create schema marts")
        conn.execute(f"create table {IDENTITIES} ({columns})")
        for kind, identifier, lead_id in rows:
            conn.execute(
                f"insert into {IDENTITIES} (identity_id, identifier_type, identifier, lead_id) values (%s, %s, %s, %s)",
                (f"{kind}:{identifier}", kind, identifier, lead_id),
            )
        conn.execute("create schema raw")
        conn.execute("create table raw.product_users (user_id text, email text, workspace_id text)")
        scope = resolve(conn, [{"anonymous_id": "anon-1"}])
    assert scope.lead_ids == {"L1"}
    assert (scope.emails, scope.crm, scope.users) == ({"ann@example.com"}, {"CRM-7", "L1"}, {"u-9"})
