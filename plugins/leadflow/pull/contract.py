"""The raw contract: every entity that lands in schema ``raw``, its columns, key and cursor.

This is the one place that says what a source must deliver. The demo generator writes it, the
loaders validate against it, and dbt's staging models read the tables it creates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column types the loaders know how to coerce and validate (see pull/validate.py).
TEXT, EMAIL, TIMESTAMP, INTEGER, NUMERIC, BOOLEAN, JSON = (
    "text",
    "email",
    "timestamp",
    "integer",
    "numeric",
    "boolean",
    "json",
)

PG_TYPES = {
    TEXT: "text",
    EMAIL: "text",
    TIMESTAMP: "timestamptz",
    INTEGER: "bigint",
    NUMERIC: "numeric",
    BOOLEAN: "boolean",
    JSON: "jsonb",
}

# Bookkeeping columns every raw table carries.
META_COLUMNS = {
    "_batch_id": "text",
    "_source_location": "text",
    "_loaded_at": "timestamptz",
}


@dataclass(frozen=True)
class Entity:
    """One raw table: ``raw.<source>_<name in the plural>``."""

    source: str
    name: str
    columns: dict[str, str]
    primary_key: tuple[str, ...]
    cursor: str
    required: tuple[str, ...] = field(default=())

    @property
    def table(self) -> str:
        return f"{self.source}_{_plural(self.name)}"

    @property
    def qualified_table(self) -> str:
        return f"raw.{self.table}"

    @property
    def key(self) -> str:
        return f"{self.source}.{self.name}"

    def ddl(self) -> str:
        cols = [f'"{c}" {PG_TYPES[t]}' for c, t in self.columns.items()]
        cols += [f'"{c}" {t}' for c, t in META_COLUMNS.items()]
        pk = ", ".join(f'"{c}"' for c in self.primary_key)
        return f"create table if not exists {self.qualified_table} ({', '.join(cols)}, primary key ({pk}))"


def _plural(noun: str) -> str:
    """English plural of an entity name: opportunity -> opportunities, lead -> leads."""
    return noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"


# Raw tables renamed since they were first created, old name -> name now (the contract once made
# ``crm_opportunitys``). ensure_raw_tables renames a warehouse's old table in place, rows and indexes kept.
RENAMED_TABLES = {"crm_opportunitys": "crm_opportunities"}


def _entity(source, name, columns, pk, cursor, required=()):
    required = tuple(dict.fromkeys((*pk, cursor, *required)))
    return Entity(source, name, columns, tuple(pk), cursor, required)


ENTITIES: tuple[Entity, ...] = (
    _entity(
        "crm",
        "lead",
        {
            "lead_id": TEXT,
            "email": EMAIL,
            "first_name": TEXT,
            "last_name": TEXT,
            "title": TEXT,
            "company_name": TEXT,
            "company_domain": TEXT,
            "country": TEXT,
            "lead_source": TEXT,
            "owner_id": TEXT,
            "status": TEXT,
            "first_touch_at": TIMESTAMP,
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
        ["lead_id"],
        "updated_at",
        ["created_at"],
    ),
    _entity(
        "crm",
        "account",
        {
            "account_id": TEXT,
            "domain": TEXT,
            "name": TEXT,
            "industry": TEXT,
            "employee_count": INTEGER,
            "annual_revenue": NUMERIC,
            "country": TEXT,
            "is_customer": BOOLEAN,
            "updated_at": TIMESTAMP,
        },
        ["account_id"],
        "updated_at",
    ),
    _entity(
        "crm",
        "opportunity",
        {
            "opportunity_id": TEXT,
            "account_id": TEXT,
            "lead_id": TEXT,
            "email": EMAIL,
            "stage": TEXT,
            "amount": NUMERIC,
            "created_at": TIMESTAMP,
            "closed_at": TIMESTAMP,
            "is_won": BOOLEAN,
            "updated_at": TIMESTAMP,
        },
        ["opportunity_id"],
        "updated_at",
        ["created_at"],
    ),
    _entity(
        "web",
        "event",
        {
            "event_id": TEXT,
            "anonymous_id": TEXT,
            "email": EMAIL,
            "user_id": TEXT,
            "event_type": TEXT,
            "page_path": TEXT,
            "referrer": TEXT,
            "utm_source": TEXT,
            "utm_campaign": TEXT,
            "occurred_at": TIMESTAMP,
        },
        ["event_id"],
        "occurred_at",
        ["event_type"],
    ),
    # Sessions, for exports that carry time on site (analytics session tables, GA4's engagement time): the
    # visitor by e-mail, product user id, web anonymous id or CRM lead id, and how long and deep the visit was.
    # The demo does not generate them; sessions feed engagement signals and a lead's time on site.
    _entity(
        "web",
        "session",
        {
            "session_id": TEXT,
            "anonymous_id": TEXT,
            "email": EMAIL,
            "user_id": TEXT,
            "lead_id": TEXT,
            "started_at": TIMESTAMP,
            "ended_at": TIMESTAMP,
            "duration_seconds": NUMERIC,
            "page_views": INTEGER,
            "landing_page": TEXT,
            "referrer": TEXT,
            "utm_source": TEXT,
            "utm_campaign": TEXT,
        },
        ["session_id"],
        "started_at",
    ),
    _entity(
        "marketing",
        "engagement",
        {
            "engagement_id": TEXT,
            "email": EMAIL,
            "channel": TEXT,
            "action": TEXT,
            "asset_name": TEXT,
            "occurred_at": TIMESTAMP,
        },
        ["engagement_id"],
        "occurred_at",
        ["email", "action"],
    ),
    _entity(
        "product",
        "user",
        {
            "user_id": TEXT,
            "email": EMAIL,
            "workspace_id": TEXT,
            "signed_up_at": TIMESTAMP,
            "plan": TEXT,
            "updated_at": TIMESTAMP,
        },
        ["user_id"],
        "updated_at",
        ["email", "signed_up_at"],
    ),
    _entity(
        "product",
        "event",
        {
            "event_id": TEXT,
            "user_id": TEXT,
            "workspace_id": TEXT,
            "event_name": TEXT,
            "properties": JSON,
            "occurred_at": TIMESTAMP,
        },
        ["event_id"],
        "occurred_at",
        ["user_id", "event_name"],
    ),
    _entity(
        "product",
        "workspace",
        {
            "workspace_id": TEXT,
            "seats": INTEGER,
            "plan": TEXT,
            "trial_ends_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
        ["workspace_id"],
        "updated_at",
    ),
    _entity(
        "conversations",
        "conversation",
        {
            "conversation_id": TEXT,
            "email": EMAIL,
            "channel": TEXT,
            "started_at": TIMESTAMP,
            "ended_at": TIMESTAMP,
            "visitor_message_count": INTEGER,
            "agent_message_count": INTEGER,
            "topics": JSON,
            "outcome": TEXT,
            "updated_at": TIMESTAMP,
        },
        ["conversation_id"],
        "updated_at",
        ["email", "started_at"],
    ),
    _entity(
        "quiz",
        "response",
        {
            "response_id": TEXT,
            "email": EMAIL,
            "submitted_at": TIMESTAMP,
            "role": TEXT,
            "team_size": TEXT,
            "current_tooling": TEXT,
            "use_case": TEXT,
            "timeline": TEXT,
            "budget_range": TEXT,
            "score": INTEGER,
        },
        ["response_id"],
        "submitted_at",
        ["email"],
    ),
    _entity(
        "consent",
        "suppression",
        {
            "email": EMAIL,
            "reason": TEXT,
            "added_at": TIMESTAMP,
        },
        ["email", "reason"],
        "added_at",
    ),
)

BY_KEY = {e.key: e for e in ENTITIES}
SOURCES = tuple(dict.fromkeys(e.source for e in ENTITIES))


def entities_of(source: str) -> list[Entity]:
    return [e for e in ENTITIES if e.source == source]


def ensure_raw_tables(conn) -> None:
    """Every raw table of the contract, empty where no pull filled it: dbt reads them all, so a sources
    file may configure any subset of the seven sources. (``create table if not exists``: a table a pull
    created, with the extra columns its export brought, is left as it is.)"""
    have = {
        r[0]
        for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' and table_name = any(%s)",
            ([e.table for e in ENTITIES],),
        )
    }
    if have == {e.table for e in ENTITIES}:
        return
    # Pulls of several sources start at once: concurrent CREATE TABLEs of one name collide in pg_type.
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('leadflow.raw_tables'))")
        conn.execute("create schema if not exists raw")
        for old, new in RENAMED_TABLES.items():
            conn.execute(_rename_table_sql(old, new))
        for entity in ENTITIES:
            conn.execute(entity.ddl())


def _rename_table_sql(old: str, new: str) -> str:
    """``raw.<old>`` renamed to ``raw.<new>``, with the indexes named after it, when the warehouse has the old
    table and not the new one (a no-op otherwise)."""
    return f"""
        do $$
        declare index_name text;
        begin
            if to_regclass('raw.{old}') is not null and to_regclass('raw.{new}') is null then
                alter table raw.{old} rename to {new};
                for index_name in
                    select indexname from pg_indexes where schemaname = 'raw' and tablename = '{new}'
                        and strpos(indexname, '{old}') > 0
                loop
                    execute format('alter index raw.%I rename to %I', index_name,
                        replace(index_name, '{old}', '{new}'));
                end loop;
            end if;
        end
        $$"""
