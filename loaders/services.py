"""Microservice reads as DataLoaders: all the students asked for in one tick, one fetch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiodataloader import DataLoader

from services.clients import Section, ServiceClients


class ServiceSectionLoader(DataLoader[str, Section[Any]]):
    """One service's section per student number; the client splits batches into calls of 100."""

    def __init__(self, clients: ServiceClients, service: str) -> None:
        super().__init__(max_batch_size=1000)
        self._clients = clients
        self._service = service

    async def batch_load_fn(self, keys: Sequence[str]) -> list[Section[Any]]:
        result = await self._clients.fetch(self._service, keys)
        return [result[key] for key in keys]
