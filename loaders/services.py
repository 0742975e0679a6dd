"""Microservice reads, batched: every student asked for within a short window, one fetch.

A DataLoader batches what is asked for in the same event-loop tick. Dashboards for several
students (aliases, staff views) reach their service sections a little apart (each first waits
for its cache lookup and database reads), so this loader collects keys for WINDOW_SECONDS
instead: a few milliseconds against calls that take tens.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.clients import Section, ServiceClients

WINDOW_SECONDS = 0.01


class ServiceSectionLoader:
    """One service's section per student number; the client splits batches into calls of 100."""

    def __init__(self, clients: ServiceClients, service: str) -> None:
        self._clients = clients
        self._service = service
        self._sections: dict[str, asyncio.Future[Section[Any]]] = {}
        self._pending: list[str] = []
        self._fetching: set[asyncio.Future[None]] = set()

    async def load(self, student_number: str) -> Section[Any]:
        if student_number not in self._sections:
            self._sections[student_number] = asyncio.get_running_loop().create_future()
            if not self._pending:
                asyncio.get_running_loop().call_later(WINDOW_SECONDS, self._dispatch)
            self._pending.append(student_number)
        return await self._sections[student_number]

    def _dispatch(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._fetch(batch))
        self._fetching.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._fetching.discard)

    async def _fetch(self, batch: list[str]) -> None:
        try:
            result = await self._clients.fetch(self._service, batch)
        except Exception as error:  # handed to every waiter of the batch
            for number in batch:
                self._sections[number].set_exception(error)
            return
        for number in batch:
            self._sections[number].set_result(result[number])
