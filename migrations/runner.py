"""Runs Alembic to head against the configured database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

from config import Settings

HERE = Path(__file__).resolve().parent


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate leaves alone what models cannot express: PostgreSQL's trigram indexes."""
    return not (type_ == "index" and name is not None and name.endswith("_trgm"))


def alembic_config(settings: Settings) -> Config:
    config = Config(str(HERE.parent / "alembic.ini"))
    config.set_main_option("script_location", str(HERE))
    config.attributes["database_url"] = settings.async_database_url
    return config


def upgrade_to_head(settings: Settings) -> None:
    command.upgrade(alembic_config(settings), "head")
