"""A database that cannot be reached is an outage, not a bug: SERVICE_UNAVAILABLE with a message
saying so and the request id, logged once per operation, and never confused with other errors."""

from __future__ import annotations

import logging
import sqlite3
import time

import pytest
from sqlalchemy import exc

import schema.root
from config import Settings
from models.db import DatabaseUnavailable, is_database_unavailable
from tests.clients import GraphQLClient
from tests.conftest import free_port, http_client_for
from tests.contract.documents import contract_operation

LOGIN = contract_operation("Login")


class FakeAsyncpgError(Exception):
    """Stands for an asyncpg error: what matters is its SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def wrapped(cause: Exception, *, invalidated: bool = False) -> exc.DBAPIError:
    """As SQLAlchemy raises a driver's error: a DBAPIError whose `orig` was caused by it."""
    adapted = Exception(str(cause))
    adapted.__cause__ = cause
    return exc.OperationalError("SELECT 1", {}, adapted, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        DatabaseUnavailable("cannot connect to the database: ConnectionRefusedError(111)"),
        exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached, connection timed out"),
        wrapped(Exception("anything"), invalidated=True),  # the pool saw the connection die
        wrapped(FakeAsyncpgError("57P01")),  # terminating connection due to administrator command
        wrapped(FakeAsyncpgError("57P03")),  # the database system is starting up
        wrapped(FakeAsyncpgError("08006")),  # connection failure
        wrapped(FakeAsyncpgError("53300")),  # too many connections
        exc.InterfaceError("SELECT 1", {}, type("InterfaceError", (Exception,), {})("connection is closed")),
    ],
    ids=lambda error: str(error).partition("\n")[0][:40],
)
def test_outages_are_recognised(error: Exception) -> None:
    assert is_database_unavailable(error)
    outer = RuntimeError("while loading the dashboard")
    outer.__cause__ = error
    assert is_database_unavailable(outer), "through the chain of causes"


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        OSError("disk full, writing an upload"),  # not raised by the database layer
        ConnectionRefusedError("a microservice refused"),
        wrapped(FakeAsyncpgError("23505")),  # unique violation: a bug or a race, not an outage
        wrapped(FakeAsyncpgError("40001")),  # serialization failure
        exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("no such table: users")),
    ],
    ids=lambda error: str(error).partition("\n")[0][:40],
)
def test_other_errors_are_not_outages(error: Exception) -> None:
    assert not is_database_unavailable(error)
    assert not is_database_unavailable(None)


async def test_an_unreachable_database_answers_service_unavailable_fast(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    closed = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    unreachable = settings.model_copy(update={"database_url": closed, "redis_url": None})
    variables = {"input": {"email": "staff@north.test", "password": "whatever it is"}}
    async with http_client_for(unreachable) as http:
        caplog.clear()
        started = time.monotonic()
        result = await GraphQLClient(http).execute(LOGIN, variables)
        elapsed = time.monotonic() - started
    assert elapsed < 5
    assert result["data"] is None
    [error] = result["errors"]
    assert error["message"] == "The database is unavailable. Please try again in a moment."
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    request_id = error["extensions"]["requestId"]
    logged = [record for record in caplog.records if request_id in record.getMessage()]
    assert [record.levelno for record in logged] == [logging.ERROR]
    assert "the database is unavailable" in logged[0].getMessage()
    assert "ConnectionRefusedError" in logged[0].getMessage()
    assert logged[0].exc_info is None, "an outage is not a bug: no traceback per request"


async def test_an_outage_is_logged_once_per_operation_however_many_fields_failed(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def unreachable(ctx: object, global_id: str) -> object:
        raise DatabaseUnavailable("cannot connect to the database: ConnectionRefusedError(111)")

    monkeypatch.setattr(schema.root, "load_node", unreachable)
    result = await gql.execute('{ a: node(id: "U3R1ZGVudDox") { id } b: node(id: "U3R1ZGVudDoy") { id } }')
    assert result["data"] == {"a": None, "b": None}
    assert [error["extensions"]["code"] for error in result["errors"]] == ["SERVICE_UNAVAILABLE"] * 2
    assert [error["path"] for error in result["errors"]] == [["a"], ["b"]]
    [request_id] = {error["extensions"]["requestId"] for error in result["errors"]}
    logged = [record for record in caplog.records if request_id in record.getMessage()]
    assert len(logged) == 1, [record.getMessage() for record in logged]
