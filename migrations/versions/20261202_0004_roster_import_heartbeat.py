"""roster import heartbeat: a RUNNING import's lease (heartbeat, attempts), and the exported
zips to delete once their links expire

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 16:12:34.998355
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('roster_exports',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_roster_exports_school_id_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_exports')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_roster_exports_storage_key'))
    )
    with op.batch_alter_table('roster_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_exports_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('roster_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index('ix_roster_imports_status_heartbeat', ['status', 'heartbeat_at'], unique=False)
    # An import running at the upgrade gets one lease from now to finish before a worker takes it over.
    op.execute("UPDATE roster_imports SET heartbeat_at = CURRENT_TIMESTAMP WHERE status = 'RUNNING'")


def downgrade() -> None:
    with op.batch_alter_table('roster_imports', schema=None) as batch_op:
        batch_op.drop_index('ix_roster_imports_status_heartbeat')
        batch_op.drop_column('attempts')
        batch_op.drop_column('heartbeat_at')

    with op.batch_alter_table('roster_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roster_exports_expires_at'))

    op.drop_table('roster_exports')
