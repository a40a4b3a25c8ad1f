"""Scope a fast-lane run to the people the hot events are about.

Every identifier of those people is resolved through the batch warehouse's identity map
(``marts.lead_identities``, a contracted mart: emails, CRM lead ids, product user ids, web anonymous ids) plus the
identifiers on the new events themselves, and every raw row of theirs is copied into ``fastlane_raw`` — the
schema the dbt target ``fastlane`` reads its sources from. Dimension-sized tables the rules read across
people (accounts, the consent list) are copied whole, so customer, competitor and suppression exclusions
are exactly the batch's.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

import psycopg

from leadflow.pull.contract import ENTITIES, ensure_raw_tables
from leadflow.pull.rules import EMAIL_RULE

log = logging.getLogger(__name__)

SCHEMA = "fastlane_raw"
IDENTITIES = "marts.lead_identities"  # its dbt contract holds the columns resolve() reads


def predicates() -> dict[str, str | None]:
    """Raw table -> predicate over the row ``r`` selecting the scoped people's rows (None: copy it whole).
    %(emails)s, %(anon)s, %(users)s, %(crm)s, %(workspaces)s are text arrays; e-mails are compared by their
    identity key, the dbt macro the staging models use (``EMAIL_RULE.sql_key``)."""
    email = EMAIL_RULE.sql_key("r.email")
    return {
        "crm_leads": f"r.lead_id = any(%(crm)s) or {email} = any(%(emails)s)",
        "crm_accounts": None,
        "crm_opportunities": f"r.lead_id = any(%(crm)s) or {email} = any(%(emails)s)",
        "web_events": f"r.anonymous_id = any(%(anon)s) or {email} = any(%(emails)s) or r.user_id = any(%(users)s)",
        "web_sessions": (
            f"r.anonymous_id = any(%(anon)s) or {email} = any(%(emails)s) or r.user_id = any(%(users)s) "
            "or r.lead_id = any(%(crm)s)"
        ),
        "marketing_engagements": f"{email} = any(%(emails)s)",
        "product_users": "r.user_id = any(%(users)s) or r.workspace_id = any(%(workspaces)s)",
        "product_events": "r.user_id = any(%(users)s) or r.workspace_id = any(%(workspaces)s)",
        "product_workspaces": "r.workspace_id = any(%(workspaces)s)",
        "conversations_conversations": f"{email} = any(%(emails)s)",
        "quiz_responses": f"{email} = any(%(emails)s)",
        "consent_suppressions": None,
    }


# Lookups the scope makes on the big raw tables, so a run reads a few index pages instead of millions of rows.
# Every batch load into raw pays for these, so they are as cheap to keep as the lookups allow: hash indexes
# (the scope only asks "= any(...)"; a hash entry is cheaper to add than a B-tree's), and on a plain column
# partial, without its NULLs (anonymous web traffic has no user id): the planner proves "is not null" from
# the strict "= any(...)", so each arm of a scope predicate still uses its index, and the column's own
# statistics size it. An expression index stays whole: the planner only trusts the expression statistics
# of a whole index (a partial one estimated 100 e-mails at half the table and chose a sequential scan).
# Measured on 1.95 M web events: the three indexes cost 7.1 s of server CPU per full load as B-trees,
# 4.4 s as hash indexes. (Indexes made by an earlier version keep their old form.)
_PLAIN = re.compile(r"[a-z_]+").fullmatch


def indexes() -> dict[str, list[str]]:
    """Raw table -> the expressions indexed for the scope's lookups (the e-mail key as the predicates write it)."""
    email = EMAIL_RULE.sql_key("email")
    return {
        "crm_leads": [email],
        "crm_opportunities": ["lead_id", email],
        "web_events": ["anonymous_id", email, "user_id"],
        "marketing_engagements": [email],
        "product_users": [email, "workspace_id"],
        "product_events": ["user_id", "workspace_id"],
        "conversations_conversations": [email],
        "quiz_responses": [email],
    }


@dataclass
class Scope:
    emails: set[str] = field(default_factory=set)
    anon: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    crm: set[str] = field(default_factory=set)
    workspaces: set[str] = field(default_factory=set)
    lead_ids: set[str] = field(default_factory=set)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def params(self) -> dict[str, list[str]]:
        return {k: sorted(getattr(self, k)) for k in ("emails", "anon", "users", "crm", "workspaces")}


def ensure_indexes(conn: psycopg.Connection) -> None:
    """Indexes for the scope's lookups on raw (created once; a no-op afterwards)."""
    for table, expressions in indexes().items():
        if conn.execute("select to_regclass(%s)", (f"raw.{table}",)).fetchone()[0] is None:
            continue
        for i, expression in enumerate(expressions):
            name = f"fastlane_{table}_{i}"
            # Checked first: even "if not exists" takes a share lock, which would wait for a batch load.
            if conn.execute("select to_regclass(%s)", (f"raw.{name}",)).fetchone()[0] is None:
                partial = f" where {expression} is not null" if _PLAIN(expression) else ""
                conn.execute(f"create index if not exists {name} on raw.{table} using hash ({expression}){partial}")


def resolve(conn: psycopg.Connection, candidates: list[dict]) -> Scope:
    """Every identifier of the people behind ``candidates`` (the batch's identity map + the events' own ids)."""
    scope = Scope()
    for c in candidates:
        if email := EMAIL_RULE.key(c.get("email")):
            scope.emails.add(email)
        if c.get("anonymous_id"):
            scope.anon.add(str(c["anonymous_id"]))
        if c.get("user_id"):
            scope.users.add(str(c["user_id"]))
    # Product users of the events (a cart abandon names a user only): their emails.
    email_key = EMAIL_RULE.sql_key("email")
    if scope.users:
        for (email,) in conn.execute(
            f"select {email_key} from raw.product_users where user_id = any(%s) and email is not null",
            (sorted(scope.users),),
        ):
            scope.emails.add(email)
    if conn.execute("select to_regclass(%s)", (IDENTITIES,)).fetchone()[0] is not None:
        scope.lead_ids = {
            r[0]
            for r in conn.execute(
                f"select distinct lead_id from {IDENTITIES} where "
                "(identifier_type = 'email' and identifier = any(%(emails)s)) "
                "or (identifier_type = 'anonymous_id' and identifier = any(%(anon)s)) "
                "or (identifier_type = 'product_user_id' and identifier = any(%(users)s)) "
                "or (identifier_type = 'crm_lead_id' and identifier = any(%(crm)s))",
                scope.params(),
            )
        }
        for kind, identifier in conn.execute(
            f"select identifier_type, identifier from {IDENTITIES} where lead_id = any(%s)", (sorted(scope.lead_ids),)
        ):
            {
                "email": scope.emails,
                "anonymous_id": scope.anon,
                "product_user_id": scope.users,
                "crm_lead_id": scope.crm,
            }[kind].add(identifier)
    scope.crm |= scope.lead_ids  # a resolved lead id is its canonical CRM lead id
    if scope.emails or scope.users:
        for user_id, workspace_id in conn.execute(
            f"select user_id, workspace_id from raw.product_users where user_id = any(%s) or {email_key} = any(%s)",
            (sorted(scope.users), sorted(scope.emails)),
        ):
            scope.users.add(user_id)
            if workspace_id:
                scope.workspaces.add(workspace_id)
    return scope


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple]:
    return conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, table),
    ).fetchall()


def copy_scope(conn: psycopg.Connection, scope: Scope) -> Scope:
    """Replace ``fastlane_raw`` with the scoped people's raw rows, in one transaction."""
    started = time.monotonic()
    params = scope.params()
    where_scoped = predicates()
    with conn.transaction():
        conn.execute(f"create schema if not exists {SCHEMA}")
        ensure_raw_tables(conn)  # an entity never pulled yet: empty, with the contract's columns
        for entity in ENTITIES:
            table = entity.table
            predicate = where_scoped.get(table)
            where = f" where {predicate}" if predicate else ""
            if _columns(conn, "raw", table) == _columns(conn, SCHEMA, table):
                conn.execute(f"truncate {SCHEMA}.{table}")  # keeps the fastlane staging views on it
            else:  # first run, or raw gained a drift column: dbt recreates the views on it right after
                conn.execute(f"drop table if exists {SCHEMA}.{table} cascade")
                conn.execute(f"create table {SCHEMA}.{table} (like raw.{table})")
            conn.execute(f"insert into {SCHEMA}.{table} select r.* from raw.{table} as r{where}", params)
            scope.rows[table] = conn.execute(f"select count(*) from {SCHEMA}.{table}").fetchone()[0]
    scope.seconds = time.monotonic() - started
    return scope
