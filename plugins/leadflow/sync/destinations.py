"""Outreach destinations. Each takes a batch of records and says which it accepted and which it rejected.

``Destination`` is the interface (and documents the record the engine builds); the implementations are
``FileDestination``, ``HubSpotDestination``, ``OutreachDestination``, ``SlackDestination`` and
``WebhookDestination``, built by ``destination_from_connection`` from the Airflow connection
``leadflow_<name>``. Connections, limits and delivery guarantees: docs/sync.md.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from leadflow import slack
from leadflow.connections import ConnectionSpec, register_secret, resolve_connection
from leadflow.http import (
    HttpSender,
    RateLimit,
    RetryPolicy,
    SendStats,
    ServiceError,
    ServiceMisconfigured,
    short_body,
)

__all__ = [
    "BatchRejected",
    "Delivery",
    "Destination",
    "FileDestination",
    "HubSpotDestination",
    "OutreachDestination",
    "SlackDestination",
    "WebhookDestination",
    "destination_from_connection",
]

TYPE_LABELS = {
    "conversion_qualified": "conversion-qualified (hot)",
    "sql": "SQL",
    "pql": "PQL",
    "conversation_qualified": "conversation-qualified",
    "mql": "MQL",
}


@dataclass
class Delivery:
    accepted: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # queue key -> the destination's reason
    state: dict[str, dict] = field(default_factory=dict)  # queue key -> ids the destination gave us

    def merge(self, other: Delivery | None) -> Delivery:
        if other is not None:
            self.accepted += other.accepted
            self.rejected.update(other.rejected)
            self.state.update(other.state)
        return self


class DestinationConfigError(ValueError):
    """A destination's connection does not say what the destination needs (a user's configuration error)."""


class BatchRejected(Exception):
    """The destination refused the whole batch because of its content (400/413/422).

    ``hints`` maps queue keys to reasons when the destination said which records were at fault.
    """

    def __init__(self, reason: str, hints: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hints = hints or {}


class RecordRejected(Exception):
    """One record refused (used inside per-record destinations)."""


class Destination(Protocol):
    """Takes a batch of records (dicts the engine builds) and says which it accepted and which it rejected.

    A record::

        queue_id         "<lead_id>:<destination>"
        lead_id          the lead
        action           "upsert" | "remove" (the lead stopped qualifying, or its email is now suppressed)
        content_hash     md5 of the payload ("removed" for a removal)
        idempotency_key  "<lead_id>:<content_hash>:<n>" — n = the lead's n-th delivery to this destination; the
                         same across every retry and re-run until it is acknowledged, new for the next change
        email            normalised email the destination keys on
        payload          the delivered JSON object (None for a removal)
        first            True when the destination does not hold the lead yet (never delivered, or removed since)
        previous         what the ledger says was delivered last: {email, payload, external_state, status} or None

    ``deliver`` returns a :class:`Delivery`; a batch refused as a whole because of its content raises
    :class:`BatchRejected` (the engine splits it until the bad records are isolated); a destination that
    cannot take anything now raises ``leadflow.http.ServiceUnavailable``/``ServiceMisconfigured`` with
    ``partial`` set to what it settled before. Optional attributes the engine reads: ``concurrency``
    (batches in flight, default 1), ``idempotent`` (a re-sent record never duplicates; False for Slack),
    ``stats`` (request counts), ``rate_limit``, ``close()``.
    """

    name: str
    batch_size: int

    def deliver(self, records: list[dict]) -> Delivery: ...


def _keys(records: list[dict]) -> list[str]:
    return [r["queue_id"] for r in records]


# --- file ------------------------------------------------------------------------------------------


class FileDestination:
    """JSONL (default) or CSV batches in a folder or under an fsspec URL (the connection's ``path``:
    ``s3://bucket/outbox/file``, for workers on several machines); a batch's name is the hash of its content.

    Writing goes to a temporary file renamed into place, so a reader never sees half a batch. Every
    line carries its idempotency key, and a record whose key is already in the folder is not written
    again: a batch written just before a crash (and before the ledger commit) is not duplicated by
    the re-run, even when the re-run batches records differently.
    """

    idempotent = True
    concurrency = 1
    CSV_FIELDS = ("queue_id", "lead_id", "action", "idempotency_key", "content_hash")

    def __init__(
        self,
        name: str,
        directory: Path | str,
        batch_size: int = 5_000,
        fmt: str = "jsonl",
        storage_options: dict | None = None,
    ):
        """``directory``: a local folder, or any fsspec URL (``s3://bucket/outbox/file``) when the workers that
        deliver run on several machines; ``storage_options`` go to the filesystem (s3fs: ``endpoint_url``, ...)."""
        from leadflow.storage import filesystem, is_url

        if fmt not in ("jsonl", "csv"):
            raise ValueError(f"file destination {name}: format must be jsonl or csv, not {fmt!r}")
        self.name = name
        self.directory = str(directory) if is_url(directory) else Path(directory)
        self.batch_size = batch_size
        self.format = fmt
        self._local = not is_url(directory)
        self._fs, self._root = filesystem(directory, storage_options)
        self._written: set[str] | None = None

    def _existing_keys(self) -> set[str]:
        if self._written is None:
            keys: set[str] = set()
            self._fs.invalidate_cache()
            for path in sorted(self._fs.glob(f"{self._root}/batch-*.{self.format}")):
                with self._fs.open(path, "r", encoding="utf-8", newline="") as f:
                    if self.format == "csv":
                        keys.update(row.get("idempotency_key") or "" for row in csv.DictReader(f))
                    else:
                        for line in f:
                            if line.strip():
                                keys.add(json.loads(line).get("idempotency_key") or "")
            keys.discard("")
            self._written = keys
        return self._written

    def deliver(self, records: list[dict]) -> Delivery:
        self._fs.makedirs(self._root, exist_ok=True)
        written = self._existing_keys()
        fresh = [r for r in records if r.get("idempotency_key") not in written]
        if fresh:
            rows = [
                {k: r.get(k) for k in ("queue_id", "lead_id", "action", "idempotency_key", "content_hash", "payload")}
                for r in fresh
            ]
            if self.format == "csv":
                text = self._csv(rows)
            else:
                text = "\n".join(json.dumps(r, sort_keys=True, default=str) for r in rows) + "\n"
            digest = hashlib.sha256(text.encode()).hexdigest()[:16]
            target = f"{self._root}/batch-{digest}.{self.format}"
            if not self._fs.exists(target):
                if self._local:  # a reader never sees half a batch: write aside, then rename
                    tmp = Path(target).with_suffix(".tmp")
                    tmp.write_text(text, encoding="utf-8")
                    os.replace(tmp, target)
                else:  # an object store's PUT is atomic
                    self._fs.pipe_file(target, text.encode("utf-8"))
            written.update(r["idempotency_key"] for r in fresh if r.get("idempotency_key"))
        return Delivery(accepted=_keys(records))

    def _csv(self, rows: list[dict]) -> str:
        payload_keys = sorted({k for r in rows for k in (r["payload"] or {})})
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[*self.CSV_FIELDS, *payload_keys], lineterminator="\n")
        writer.writeheader()
        for r in rows:
            flat = {k: r[k] for k in self.CSV_FIELDS}
            for key, value in (r["payload"] or {}).items():
                flat[key] = ";".join(map(str, value)) if isinstance(value, list) else value
            writer.writerow(flat)
        return out.getvalue()


# --- shared bits of the HTTP destinations --------------------------------------------------------------


class _HttpDestination:
    idempotent = True
    concurrency = 1
    sender: HttpSender

    @property
    def stats(self) -> SendStats:
        return self.sender.stats

    @property
    def rate_limit(self) -> RateLimit | None:
        return self.sender.rate_limit

    def close(self) -> None:
        self.sender.close()


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _name(payload: dict) -> str:
    return " ".join(p for p in (payload.get("first_name"), payload.get("last_name")) if p) or payload.get("email", "")


# --- HubSpot-style contacts batch upsert -----------------------------------------------------------------


class HubSpotDestination(_HttpDestination):
    """``POST /crm/v3/objects/contacts/batch/upsert`` — at most 100 inputs, keyed by the ``email`` id property.

    Upserting by email means a retried or re-sent batch updates the same contacts: never a duplicate.
    A lead whose email changed is addressed by the email HubSpot holds (the ledger's) and given the new
    one. A removal marks the contact ``<prefix>status = disqualified`` (CRM records are not deleted).
    HubSpot refuses a whole batch when one input is invalid (400, ``VALIDATION_ERROR``); the errors name
    the inputs by ``objectWriteTraceId`` when they can, so those are set aside at once, else the engine
    bisects.
    """

    PATH = "/crm/v3/objects/contacts/batch/upsert"

    def __init__(
        self, name: str, sender: HttpSender, batch_size: int = 100, concurrency: int = 2, prefix: str = "leadflow_"
    ):
        self.name, self.sender = name, sender
        self.batch_size = min(batch_size, 100)
        self.concurrency = concurrency
        self.prefix = prefix

    def properties(self, record: dict) -> dict[str, str]:
        """HubSpot's spec types every property value as a string: a missing value is "" (clears it there)."""
        return {k: "" if v is None else str(v) for k, v in self._properties(record).items()}

    def _properties(self, record: dict) -> dict[str, Any]:
        p, pre = record["payload"], self.prefix
        if record["action"] == "remove":
            return {f"{pre}lead_id": record["lead_id"], f"{pre}status": "disqualified"}
        return {
            "email": record["email"],
            "firstname": p.get("first_name"),
            "lastname": p.get("last_name"),
            "company": p.get("company_name"),
            "jobtitle": p.get("title"),
            f"{pre}lead_id": record["lead_id"],
            f"{pre}status": "qualified",
            f"{pre}primary_type": p.get("primary_type"),
            f"{pre}qualification_types": ";".join(p.get("qualification_types") or []),
            f"{pre}route": p.get("route"),
            f"{pre}reasons": p.get("reasons_text"),
            f"{pre}qualified_at": p.get("qualified_at"),
            f"{pre}sla_due_at": p.get("sla_due_at"),
        }

    def deliver(self, records: list[dict]) -> Delivery:
        inputs, names = [], {}
        for r in records:
            previous_email = (r.get("previous") or {}).get("email")
            ident = previous_email or r["email"]
            trace = r["idempotency_key"]
            # every way HubSpot may name this input in an answer: its trace id, the id we sent, the email it gets
            for name in (trace, ident, r["email"]):
                if name:
                    names.setdefault(str(name).strip().lower(), r["queue_id"])
            inputs.append(
                {"idProperty": "email", "id": ident, "objectWriteTraceId": trace, "properties": self.properties(r)}
            )
        response = self.sender.request("POST", self.PATH, json_body={"inputs": inputs})
        body = _json(response)
        if response.status_code in (200, 201, 207):
            return self._settle(records, names, response, body)
        if response.status_code == 404:
            raise ServiceMisconfigured(f"{self.name}: HTTP 404 for the batch upsert endpoint — check the host")
        body = body if isinstance(body, dict) else {}
        reason = f"HubSpot HTTP {response.status_code}: {body.get('message') or short_body(response)}"
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        details = sorted({f"{e.get('code') or ''} {e.get('message') or ''}".strip() for e in errors})
        if details:
            reason += " — " + "; ".join(details)[:1500]
        hints = {}
        for err in errors:
            for key in _named(err, names):
                hints[key] = f"HubSpot {err.get('category') or 'VALIDATION_ERROR'}: {err.get('message')}"
        raise BatchRejected(reason, hints)

    def _settle(self, records: list[dict], names: dict[str, str], response: Any, body: Any) -> Delivery:
        """Fail closed: an input counts as delivered only when a result names it and no error does.

        HubSpot documents every field of a result and of an error as optional, ``context`` as a free map,
        and a multi-status answer may hold fewer results than inputs. An input the answer does not confirm
        record by record is not delivered: it is dead-lettered with the answer and sent again next run
        (upserts by email, so a contact HubSpot did write is updated, never duplicated).
        """
        body = body if isinstance(body, dict) else {}
        results = [x for x in body.get("results") or [] if isinstance(x, dict)]
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        try:
            num_errors = max(int(body.get("numErrors") or 0), len(errors))
        except (TypeError, ValueError):
            num_errors = max(1, len(errors))
        delivery = Delivery()
        for err in errors:
            for key in _named(err, names):
                delivery.rejected.setdefault(
                    key, f"HubSpot {err.get('category') or err.get('code') or 'error'}: {err.get('message')}"
                )
        confirmed: dict[str, str | None] = {}
        for result in results:
            props = result.get("properties") if isinstance(result.get("properties"), dict) else {}
            for name in (result.get("objectWriteTraceId"), props.get("email")):
                key = names.get(str(name or "").strip().lower())
                if key is not None and key not in delivery.rejected:
                    confirmed[key] = str(result["id"]) if result.get("id") else None
                    break
        answer = (
            f"HTTP {response.status_code}, {len(results)} result(s) for {len(records)} input(s), "
            f"numErrors {num_errors}: {short_body(response, 1200)}"
        )
        if confirmed and len(confirmed) + num_errors > len(records):
            # more errors than inputs left unconfirmed: some error is about an input we counted as written
            reason = f"HubSpot answer is contradictory, nothing in it is taken as delivered ({answer})"
            return Delivery(rejected={r["queue_id"]: delivery.rejected.get(r["queue_id"], reason) for r in records})
        named_results = sum(1 for _ in confirmed)
        every_error_named = num_errors == len(errors) and all(_named(err, names) for err in errors)
        if every_error_named and len(results) == len(records) - len(delivery.rejected) and named_results < len(results):
            # Results that name no input (HubSpot need not echo the email or trace id) still confirm by count:
            # every error names its inputs and there is exactly one result for each other input.
            for r in records:
                if r["queue_id"] not in delivery.rejected:
                    confirmed.setdefault(r["queue_id"], None)
        for r in records:
            key = r["queue_id"]
            if key in delivery.rejected:
                delivery.rejected[key] += f" ({answer})"
            elif key in confirmed:
                delivery.accepted.append(key)
                if confirmed[key]:
                    delivery.state[key] = {"contact_id": confirmed[key]}
            else:
                delivery.rejected[key] = f"HubSpot did not confirm this input ({answer})"
        return delivery


def _named(err: dict, names: dict[str, str]) -> list[str]:
    """The inputs an error names, whatever ``context`` key it uses (objectWriteTraceId, ids, emails, ...)."""
    found: list[str] = []
    context = err.get("context") if isinstance(err.get("context"), dict) else {}
    for values in context.values():
        for value in values if isinstance(values, list) else [values]:
            key = names.get(str(value).strip().lower())
            if key is not None and key not in found:
                found.append(key)
    return found


# --- Outreach-style prospects API (JSON:API) -------------------------------------------------------------------


class OutreachDestination(_HttpDestination):
    """Prospects upserted by email and enrolled in the sequence of their route (JSON:API, ``/api/v2``).

    Per lead: ``PATCH /prospects/{id}`` when the ledger knows the prospect id, else ``POST /prospects``;
    Outreach refuses a second prospect with the same email (422 "already been taken"), so a retried
    or re-run create is found by ``GET /prospects?filter[emails]=`` and patched — never duplicated.
    Then ``POST /sequenceStates`` for the route's sequence (a 422 "already in this sequence" counts
    as done); a route change finishes the old sequence state first. A removal finishes the sequence
    state (the prospect stays in Outreach). Prospect and sequence-state ids go to the ledger, so an
    unchanged route costs one request per changed lead, a new lead two.
    """

    MEDIA = "application/vnd.api+json"

    def __init__(
        self,
        name: str,
        sender: HttpSender,
        sequences: dict[str, Any],
        mailbox_id: Any = None,
        batch_size: int = 50,
        concurrency: int = 2,
        reasons_field: str | None = "custom1",
    ):
        self.name, self.sender = name, sender
        self.sequences = {k: str(v) for k, v in (sequences or {}).items() if v not in (None, "")}
        self.mailbox_id = mailbox_id
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.reasons_field = reasons_field

    def deliver(self, records: list[dict]) -> Delivery:
        delivery = Delivery()
        for r in records:
            try:
                state = self._remove(r) if r["action"] == "remove" else self._upsert(r)
            except RecordRejected as exc:
                delivery.rejected[r["queue_id"]] = str(exc)
            except ServiceError as exc:
                exc.partial = delivery
                raise
            else:
                delivery.accepted.append(r["queue_id"])
                delivery.state[r["queue_id"]] = state
        return delivery

    def _call(self, method: str, path: str, body: dict | None = None, params: dict | None = None):
        headers = {"Accept": self.MEDIA}
        if body is not None:
            headers["Content-Type"] = self.MEDIA
        response = self.sender.request(method, path, json_body=body, params=params, headers=headers)
        return response, _json(response)

    @staticmethod
    def _error(body: Any, response: Any) -> str:
        errors = (body or {}).get("errors") or []
        if errors:
            return "; ".join(str(e.get("detail") or e.get("title")) for e in errors)
        return short_body(response)

    def _created_id(self, response: Any, body: Any, what: str) -> str:
        """The id of what a 2xx says it created; an answer without one confirms nothing (fail closed)."""
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict) and str(data.get("id") or "").strip():
            return str(data["id"])
        raise RecordRejected(
            f"Outreach HTTP {response.status_code} {what} named no id, not taken as done: {short_body(response, 600)}"
        )

    def _attributes(self, r: dict) -> dict:
        p = r["payload"]
        attrs = {
            "emails": [r["email"]],
            "firstName": p.get("first_name"),
            "lastName": p.get("last_name"),
            "company": p.get("company_name"),
            "title": p.get("title"),
            "externalSource": "leadflow",
            "externalId": r["lead_id"],
            "tags": [t for t in ("leadflow", p.get("primary_type")) if t],  # an empty tag is not a tag
        }
        if self.reasons_field:
            attrs[self.reasons_field] = (p.get("reasons_text") or "")[:1000]
        return attrs

    def _find_prospect(self, email: str) -> str | None:
        response, body = self._call("GET", "/api/v2/prospects", params={"filter[emails]": email, "page[size]": 1})
        if response.status_code != 200:
            raise RecordRejected(
                f"Outreach HTTP {response.status_code} looking up the prospect: {self._error(body, response)}"
            )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or (data and not isinstance(data[0], dict)):
            raise RecordRejected(f"Outreach prospect lookup answer without a data list: {short_body(response)}")
        return str(data[0]["id"]) if data and data[0].get("id") not in (None, "") else None

    def _upsert(self, r: dict) -> dict:
        route = (r["payload"] or {}).get("route")
        sequence_id = self.sequences.get(route)
        if not sequence_id:
            raise RecordRejected(f"no Outreach sequence configured for route {route!r} (connection extra 'sequences')")
        state = dict((r.get("previous") or {}).get("external_state") or {})
        document = {"data": {"type": "prospect", "attributes": self._attributes(r)}}
        prospect_id = state.get("prospect_id")
        if prospect_id:
            document["data"]["id"] = int(prospect_id) if str(prospect_id).isdigit() else prospect_id
            response, body = self._call("PATCH", f"/api/v2/prospects/{prospect_id}", document)
            if response.status_code == 404:
                prospect_id = None
                document["data"].pop("id", None)
            elif response.status_code != 200:
                raise RecordRejected(f"Outreach HTTP {response.status_code}: {self._error(body, response)}")
        if not prospect_id:
            response, body = self._call("POST", "/api/v2/prospects", document)
            if response.status_code in (200, 201):
                prospect_id = self._created_id(response, body, "creating the prospect")
            elif response.status_code == 422 and "taken" in self._error(body, response).lower():
                # Created by an earlier attempt whose answer we never saw, or by someone else: update it.
                prospect_id = self._find_prospect(r["email"])
                if not prospect_id:
                    raise RecordRejected(f"Outreach: email taken but no prospect found: {self._error(body, response)}")
                document["data"]["id"] = int(prospect_id) if prospect_id.isdigit() else prospect_id
                response, body = self._call("PATCH", f"/api/v2/prospects/{prospect_id}", document)
                if response.status_code != 200:
                    raise RecordRejected(f"Outreach HTTP {response.status_code}: {self._error(body, response)}")
            else:
                raise RecordRejected(f"Outreach HTTP {response.status_code}: {self._error(body, response)}")
        if state.get("prospect_id") != prospect_id:
            state = {"prospect_id": prospect_id}
        if state.get("sequence_id") == sequence_id and state.get("sequence_state_id"):
            return state
        if state.get("sequence_state_id"):
            self._finish(state["sequence_state_id"])
        state.update(sequence_id=sequence_id, sequence_state_id=self._enrol(prospect_id, sequence_id))
        return state

    def _enrol(self, prospect_id: str, sequence_id: str) -> str:
        relationships = {
            "prospect": {"data": {"type": "prospect", "id": _int(prospect_id)}},
            "sequence": {"data": {"type": "sequence", "id": _int(sequence_id)}},
        }
        if self.mailbox_id not in (None, ""):
            relationships["mailbox"] = {"data": {"type": "mailbox", "id": _int(self.mailbox_id)}}
        response, body = self._call(
            "POST", "/api/v2/sequenceStates", {"data": {"type": "sequenceState", "relationships": relationships}}
        )
        if response.status_code in (200, 201):
            return self._created_id(response, body, f"enrolling in sequence {sequence_id}")
        if response.status_code == 422 and "already" in self._error(body, response).lower():
            existing = self._states(prospect_id, sequence_id)
            if existing:
                return existing[0]
        raise RecordRejected(
            f"Outreach HTTP {response.status_code} enrolling in sequence {sequence_id}: {self._error(body, response)}"
        )

    def _states(self, prospect_id: str, sequence_id: str | None = None) -> list[str]:
        params = {"filter[prospect][id]": prospect_id, "filter[state]": "active", "page[size]": 50}
        if sequence_id:
            params["filter[sequence][id]"] = sequence_id
        response, body = self._call("GET", "/api/v2/sequenceStates", params=params)
        if response.status_code != 200:
            raise RecordRejected(f"Outreach HTTP {response.status_code} listing sequence states")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise RecordRejected(f"Outreach sequence states answer without a data list: {short_body(response)}")
        return [str(d["id"]) for d in data if isinstance(d, dict) and d.get("id") not in (None, "")]

    def _finish(self, state_id: str) -> None:
        response, body = self._call("POST", f"/api/v2/sequenceStates/{state_id}/actions/finish", None)
        if response.status_code in (200, 201, 204, 404):  # 404: already gone
            return
        if response.status_code == 422:  # already finished
            return
        raise RecordRejected(
            f"Outreach HTTP {response.status_code} finishing sequence state {state_id}: {self._error(body, response)}"
        )

    def _remove(self, r: dict) -> dict:
        state = dict((r.get("previous") or {}).get("external_state") or {})
        prospect_id = state.get("prospect_id") or self._find_prospect(r["email"])
        if not prospect_id:
            return {}
        ids = [state["sequence_state_id"]] if state.get("sequence_state_id") else self._states(prospect_id)
        for state_id in ids:
            self._finish(state_id)
        return {"prospect_id": prospect_id}


def _int(value: Any) -> Any:
    return int(value) if str(value).isdigit() else value


# --- Slack incoming webhook --------------------------------------------------------------------------------------


class SlackDestination(_HttpDestination):
    """One message per hot lead: who, company, why, SLA. At most one message a second.

    Slack incoming webhooks have no idempotency key, so this destination is *not* idempotent: the
    engine writes a "sending" row before each message and commits the ledger right after Slack's
    ``ok`` (batches of one). A worker killed between Slack's ``ok`` and that commit re-sends that one
    message on the next run (at-least-once; the window is one message). A content change of a lead
    already announced, or a removal, sends nothing (the ledger still records it); a new
    qualification (type or qualifying time changed) is announced again.
    """

    idempotent = False

    def __init__(self, name: str, sender: HttpSender, path: str):
        self.name, self.sender, self.path = name, sender, path
        self.batch_size = 1
        self.concurrency = 1

    @staticmethod
    def announce(record: dict) -> bool:
        if record["action"] == "remove":
            return False
        if record.get("first"):
            return True
        before = (record.get("previous") or {}).get("payload") or {}
        now = record["payload"] or {}
        return (before.get("primary_type"), before.get("qualified_at")) != (
            now.get("primary_type"),
            now.get("qualified_at"),
        )

    @staticmethod
    def message(record: dict, now: datetime | None = None) -> dict:
        p = record["payload"] or {}
        who = _name(p)
        title = f", {p['title']}" if p.get("title") else ""
        company = p.get("company_name") or "unknown company"
        kind = TYPE_LABELS.get(p.get("primary_type"), p.get("primary_type") or "qualified")
        sla = p.get("sla_due_at") or ""
        sla_text = sla
        try:
            due = datetime.fromisoformat(sla.replace("Z", "+00:00"))
            minutes = round(((due - (now or datetime.now(UTC))).total_seconds()) / 60)
            left = f"{minutes} min left" if minutes >= 0 else f"overdue by {-minutes} min"
            sla_text = f"respond by {due:%Y-%m-%d %H:%M} UTC ({left})"
        except ValueError:
            pass
        why = (p.get("reasons_text") or "no reason recorded")[:2900]
        header = f"Hot lead: {who} — {company}"[:150]
        return slack.message(
            f"{header} ({kind}). Why: {why[:500]}. SLA: {sla_text}.",
            header=header,
            fields=[
                ("Who", f"{who}{title}\n{record['email']}"),
                ("Company", company),
                ("Qualified as", kind),
                ("SLA", sla_text),
            ],
            sections=[("Why", why)],
            context=f"leadflow · lead {record['lead_id']} · ref {record['idempotency_key']}",
        )

    def deliver(self, records: list[dict]) -> Delivery:
        delivery = Delivery()
        for r in records:
            if not self.announce(r):
                delivery.accepted.append(r["queue_id"])
                continue
            try:
                response = self.sender.request("POST", self.path, json_body=self.message(r))
            except ServiceError as exc:
                exc.partial = delivery
                raise
            text = short_body(response)
            if response.status_code == 200 and text == "ok":  # Slack answers exactly "ok"; anything else is unknown
                delivery.accepted.append(r["queue_id"])
            elif response.status_code in (404, 410) or text in (
                "no_service",
                "channel_not_found",
                "channel_is_archived",
                "action_prohibited",
                "invalid_token",
                "no_team",
            ):
                exc = ServiceMisconfigured(f"{self.name}: Slack HTTP {response.status_code} {text}")
                exc.partial = delivery
                raise exc
            else:
                delivery.rejected[r["queue_id"]] = f"Slack HTTP {response.status_code}: {text}"
        return delivery


# --- generic webhook (JSON, HMAC-signed) ---------------------------------------------------------------------------


class WebhookDestination(_HttpDestination):
    """``POST`` JSON batches ``{"records": [...]}`` signed with HMAC-SHA256.

    Headers: ``X-Leadflow-Timestamp`` (Unix seconds) and ``X-Leadflow-Signature: v1=<hex>`` where the
    hex is HMAC-SHA256(secret, "<timestamp>.<raw body>"); ``Idempotency-Key`` for the batch. Every
    record carries its own ``idempotency_key``: receivers must treat a key they have seen as done
    (retries and re-runs reuse keys). A 2xx answer may list per-record outcomes
    ``{"results": [{"idempotency_key", "status": "accepted"|"duplicate"|"rejected", "reason"}]}``;
    400/413/422 refuse the batch (the engine splits it).
    """

    def __init__(
        self, name: str, sender: HttpSender, path: str, secret: str, batch_size: int = 100, concurrency: int = 2
    ):
        self.name, self.sender, self.path = name, sender, path
        self._secret = secret.encode()
        self.batch_size = batch_size
        self.concurrency = concurrency

    def signature(self, body: bytes, timestamp: str) -> str:
        return "v1=" + hmac.new(self._secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()

    def _sign(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {"X-Leadflow-Timestamp": timestamp, "X-Leadflow-Signature": self.signature(body, timestamp)}

    def deliver(self, records: list[dict]) -> Delivery:
        items = [
            {
                k: r.get(k)
                for k in ("idempotency_key", "queue_id", "lead_id", "action", "email", "content_hash", "payload")
            }
            for r in records
        ]
        by_key = {r["idempotency_key"]: r["queue_id"] for r in records}
        batch_key = hashlib.sha256("\n".join(sorted(by_key)).encode()).hexdigest()[:32]
        response = self.sender.request(
            "POST", self.path, json_body={"records": items}, headers={"Idempotency-Key": batch_key}, sign=self._sign
        )
        body = _json(response)
        body = body if isinstance(body, dict) else None
        if 200 <= response.status_code < 300:
            delivery = Delivery()
            outcome = {
                str(x.get("idempotency_key")): x for x in ((body or {}).get("results") or []) if isinstance(x, dict)
            }
            per_record = isinstance((body or {}).get("results"), list)
            for key, queue_id in by_key.items():
                result = outcome.get(key) or {}
                status = result.get("status")
                if status == "rejected":
                    delivery.rejected[queue_id] = f"webhook: {result.get('reason') or 'rejected'}"
                elif status in ("accepted", "duplicate") or not per_record:
                    delivery.accepted.append(queue_id)
                else:  # the answer lists outcomes but not this record's: not confirmed, sent again
                    delivery.rejected[queue_id] = (
                        f"webhook HTTP {response.status_code} gave no outcome for this record "
                        f"({len(outcome)} outcome(s) for {len(by_key)} record(s)): {short_body(response, 600)}"
                    )
            return delivery
        if response.status_code == 404:
            raise ServiceMisconfigured(f"{self.name}: HTTP 404 — check the webhook URL")
        hints = {}
        for item in (body or {}).get("results") or (body or {}).get("errors") or []:
            if (
                isinstance(item, dict)
                and item.get("idempotency_key") in by_key
                and item.get("status", "rejected") == "rejected"
            ):
                hints[by_key[item["idempotency_key"]]] = f"webhook: {item.get('reason') or 'rejected'}"
        raise BatchRejected(f"webhook HTTP {response.status_code}: {short_body(response)}", hints)


# --- building a destination from its connection -------------------------------------------------------------------

DEFAULT_LIMITS = {
    "outreach": RateLimit(10_000, 3600.0),  # Outreach: 10,000 requests per hour per user
    "hubspot": RateLimit(190, 10.0),  # HubSpot private apps (Pro/Enterprise): 190 per 10 s
    "slack": RateLimit(1, 1.0),  # Slack incoming webhooks: 1 message per second
    "webhook": None,
}
DEFAULT_HOSTS = {
    "outreach": "https://api.outreach.io",
    "hubspot": "https://api.hubapi.com",
    "slack": "https://hooks.slack.com/services",
}
KINDS = ("file", "hubspot", "outreach", "slack", "webhook")

_lock = threading.Lock()


def _kind(name: str, conn: ConnectionSpec | None) -> str:
    if conn is not None and conn.extra.get("kind"):
        return str(conn.extra["kind"])
    if conn is not None and conn.conn_type in KINDS:
        return str(conn.conn_type)
    base = name.split("_", 1)[0].split("-", 1)[0]
    return base if base in KINDS else name


def retry_policy(settings: Any, overrides: dict | None = None) -> RetryPolicy:
    """The sync's retry settings (``LEADFLOW_SYNC_*``), with a connection's ``extra.retry`` over them."""
    values = {
        "max_attempts": settings.sync_max_attempts,
        "base_seconds": settings.sync_backoff_base_seconds,
        "max_backoff_seconds": settings.sync_backoff_max_seconds,
        "max_retry_after_seconds": settings.sync_max_retry_after_seconds,
        "timeout_seconds": settings.sync_http_timeout_seconds,
    }
    for key, value in (overrides or {}).items():
        if key in values:
            values[key] = type(values[key])(value)
    return RetryPolicy(**values)


def destination_from_connection(name: str, settings: Any, sleep=time.sleep, transport=None) -> Destination:
    """The destination ``name`` as its Airflow connection ``leadflow_<name>`` describes it."""
    conn = resolve_connection(f"leadflow_{name}", required=name != "file")
    kind = _kind(name, conn)
    extra = conn.extra if conn else {}
    if kind == "file":
        directory = extra.get("path") or (conn.host if conn and conn.host else "") or settings.outbox / name
        return FileDestination(
            name,
            directory,
            int(extra.get("batch_size", 5_000)),
            str(extra.get("format", "jsonl")),
            extra.get("storage_options"),
        )
    if kind not in KINDS:
        raise DestinationConfigError(
            f"destination {name!r}: unknown kind {kind!r} (one of {', '.join(KINDS)}; set extra.kind)"
        )
    retry = retry_policy(settings, extra.get("retry"))
    limit = RateLimit.parse(extra.get("rate_limit"), DEFAULT_LIMITS.get(kind))
    concurrency = int(extra.get("concurrency", {"hubspot": 2, "outreach": 2, "webhook": 2}.get(kind, 1)))
    if kind == "slack":
        secret = str(conn.password or extra.get("webhook_url") or "")
        if secret.startswith("http"):
            url = secret
        elif secret:
            url = conn.base_url(DEFAULT_HOSTS["slack"]) + "/" + secret.strip("/")
        else:
            raise DestinationConfigError(
                f"destination {name!r}: the Slack connection needs the webhook URL or token as password"
            )
        register_secret(url)
        sender = HttpSender(name, "", rate_limit=limit, retry=retry, sleep=sleep, transport=transport)
        return SlackDestination(name, sender, url)
    base = conn.base_url(DEFAULT_HOSTS.get(kind))
    headers = {"User-Agent": "leadflow-sync"}
    token = conn.password or extra.get("token")
    if kind in ("hubspot", "outreach"):
        if not token:
            raise DestinationConfigError(
                f"destination {name!r}: connection leadflow_{name} needs the API token as its password"
            )
        headers["Authorization"] = f"Bearer {token}"
    sender = HttpSender(name, base, headers, limit, retry, sleep=sleep, transport=transport, concurrency=concurrency)
    if kind == "hubspot":
        return HubSpotDestination(
            name, sender, int(extra.get("batch_size", 100)), concurrency, str(extra.get("property_prefix", "leadflow_"))
        )
    if kind == "outreach":
        if extra.get("mailbox_id") in (None, ""):  # Outreach enrols a prospect only with the mailbox that sends
            raise DestinationConfigError(
                f"destination {name!r}: connection leadflow_{name} needs extra.mailbox_id (the Outreach mailbox the "
                "sequences send from; Outreach refuses a sequence state without one)"
            )
        return OutreachDestination(
            name,
            sender,
            extra.get("sequences") or {},
            extra.get("mailbox_id"),
            int(extra.get("batch_size", 50)),
            concurrency,
            extra.get("reasons_field", "custom1"),
        )
    secret = extra.get("hmac_secret") or extra.get("secret") or conn.password
    if not secret:
        raise DestinationConfigError(
            f"destination {name!r}: the webhook connection needs extra.hmac_secret (or a password)"
        )
    register_secret(str(secret))
    url = base + ("/" + str(conn.schema or extra.get("path")).strip("/") if (conn.schema or extra.get("path")) else "")
    return WebhookDestination(name, sender, url, str(secret), int(extra.get("batch_size", 100)), concurrency)
