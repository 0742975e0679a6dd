"""OneRoster imports: each run's state, progress and counts, and the problems of its lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin, enum_column
from models.enums import RosterImportStatus


class RosterImport(IdMixin, CreatedMixin, Base):
    """One import of OneRoster CSV files. `payload` holds the uploaded files (a zip) until the
    worker has run the import, so any process on any machine can run it.

    A RUNNING import is leased to the process running it: that process beats (`heartbeat_at`)
    after every batch, and an import whose heartbeat is older than the lease is taken over by a
    worker (resolvers/oneroster/claims.py). `attempts` counts the runs started since it was last
    queued, and is also the run's token: a run that is no longer the latest writes nothing more."""

    __tablename__ = "roster_imports"
    __table_args__ = (
        Index("ix_roster_imports_school_created", "school_id", "created_at"),
        Index("ix_roster_imports_status_heartbeat", "status", "heartbeat_at"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[RosterImportStatus] = mapped_column(
        enum_column(RosterImportStatus), default=RosterImportStatus.QUEUED
    )
    dry_run: Mapped[bool] = mapped_column(default=False)
    file_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # {entity: {"created": n, "updated": n, "unchanged": n, "failed": n}}
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class RosterImportProblem(IdMixin, Base):
    """A line (or a file, `line` None) that could not be imported, and why."""

    __tablename__ = "roster_import_problems"
    __table_args__ = (Index("ix_roster_import_problems_order", "import_id", "file", "line"),)

    import_id: Mapped[int] = mapped_column(ForeignKey("roster_imports.id", ondelete="CASCADE"))
    file: Mapped[str] = mapped_column(String(120))
    line: Mapped[int | None] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(120))
    sourced_id: Mapped[str | None] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(1000))


class RosterExport(IdMixin, CreatedMixin, Base):
    """An exported zip in the media store (`storage_key`), kept while its signed link works; the
    worker deletes the file and this row once `expires_at` has passed."""

    __tablename__ = "roster_exports"

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
