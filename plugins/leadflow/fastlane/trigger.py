"""The fast lane's event trigger: polls the hot-event sources from Airflow's triggerer, every second.

An ``AssetWatcher`` runs it (``dags/leadflow_fast_lane.py``); each event it yields becomes an asset event
whose ``extra["payload"]`` carries the candidates, and the asset schedules the fast-lane DAG. Events that
arrive while a run is busy queue on the asset and start the next run together (the DAG has
``max_active_runs=1``), so bursts are batched instead of piling up runs.

The trigger keeps no secret in its kwargs (they are stored in Airflow's database and shown in logs): the
warehouse is found the way every leadflow process finds it (``LEADFLOW_WAREHOUSE_URL`` / connection).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

log = logging.getLogger(__name__)


class HotEventTrigger(BaseEventTrigger):
    """Yields ``{"candidates": [...], "detected_at": iso}`` whenever hot-event candidates arrive."""

    def __init__(self, poll_interval: float = 1.0, retry_interval: float = 10.0) -> None:
        super().__init__()
        self.poll_interval = float(poll_interval)
        self.retry_interval = float(retry_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "leadflow.fastlane.trigger.HotEventTrigger",
            {"poll_interval": self.poll_interval, "retry_interval": self.retry_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from leadflow.fastlane.detect import HotSourceScanner

        scanner = None
        while scanner is None:
            try:  # the warehouse may not be up yet; keep trying, never fail the watcher
                scanner = await asyncio.to_thread(HotSourceScanner)
                await asyncio.to_thread(scanner.start)
            except Exception as exc:
                self.log.warning("fast lane watcher: cannot start (%s); retrying in %ss", exc, self.retry_interval)
                scanner = None
                await asyncio.sleep(self.retry_interval)
        self.log.info("fast lane watcher: polling the hot-event sources every %ss", self.poll_interval)
        while True:
            try:
                found = await asyncio.to_thread(scanner.scan)
            except Exception as exc:  # a transient source error must not stop the watcher
                self.log.warning("fast lane watcher: scan failed: %s", exc)
                found = []
            if found:
                detected_at = datetime.now(UTC).isoformat()
                self.log.info("fast lane watcher: %s hot candidate(s)", len(found))
                yield TriggerEvent({"candidates": found, "detected_at": detected_at})
            await asyncio.sleep(self.poll_interval)
