"""Outreach destinations. Each takes a batch of records and says which it accepted and which it rejected."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass
class Delivery:
    accepted: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # queue key -> the destination's reason


class Destination(Protocol):
    name: str
    batch_size: int

    def deliver(self, records: list[dict]) -> Delivery: ...


class FileDestination:
    """JSONL batches in a folder; a batch's name is the hash of its content, so a re-delivery is a no-op.

    Writing goes to a temporary file and is renamed into place, so a reader never sees half a batch.
    """

    def __init__(self, name: str, directory: Path, batch_size: int = 5_000):
        self.name = name
        self.directory = directory
        self.batch_size = batch_size

    def deliver(self, records: list[dict]) -> Delivery:
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(r, sort_keys=True, default=str) for r in records]
        digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
        target = self.directory / f"batch-{digest}.jsonl"
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            tmp.write_text("\n".join(lines) + "\n")
            os.replace(tmp, target)
        return Delivery(accepted=[r["queue_id"] for r in records])
