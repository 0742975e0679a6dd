"""roster: term status and grading periods, sourced ids, class capacity, enrollment history,
user status, emergency contacts, invitations, assignment and grade-cell details, OneRoster imports

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:19:50.762284
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('emergency_contacts',
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('relationship', sa.String(length=60), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_emergency_contacts_student_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_contacts'))
    )
    with op.batch_alter_table('emergency_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_contacts_student_id'), ['student_id'], unique=False)

    op.create_table('invitations',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_invitations_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_invitations_school_id_schools'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_invitations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_invitations_code_hash'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index('ix_invitations_school_created', ['school_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitations_user_id'), ['user_id'], unique=False)

    op.create_table('roster_imports',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('QUEUED', 'RUNNING', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', name='rosterimportstatus', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('file_names', sa.JSON(), nullable=False),
    sa.Column('processed', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=True),
    sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_roster_imports_school_id_schools'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_roster_imports_started_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_imports'))
    )
    with op.batch_alter_table('roster_imports', schema=None) as batch_op:
        batch_op.create_index('ix_roster_imports_school_created', ['school_id', 'created_at'], unique=False)

    op.create_table('grading_periods',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('term_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('sourced_id', sa.String(length=255), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_grading_periods_school_id_schools'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['term_id'], ['terms.id'], name=op.f('fk_grading_periods_term_id_terms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grading_periods')),
    sa.UniqueConstraint('school_id', 'sourced_id', name=op.f('uq_grading_periods_school_id_sourced_id'))
    )
    with op.batch_alter_table('grading_periods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grading_periods_term_id'), ['term_id'], unique=False)

    op.create_table('roster_import_problems',
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('file', sa.String(length=120), nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('field', sa.String(length=120), nullable=True),
    sa.Column('sourced_id', sa.String(length=255), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['roster_imports.id'], name=op.f('fk_roster_import_problems_import_id_roster_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_import_problems'))
    )
    with op.batch_alter_table('roster_import_problems', schema=None) as batch_op:
        batch_op.create_index('ix_roster_import_problems_order', ['import_id', 'file', 'line'], unique=False)

    op.create_table('enrollment_changes',
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('ACTIVE', 'DROPPED', 'COMPLETED', name='enrollmentstatus', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('changed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f('fk_enrollment_changes_changed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollments.id'], name=op.f('fk_enrollment_changes_enrollment_id_enrollments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollment_changes'))
    )
    with op.batch_alter_table('enrollment_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollment_changes_enrollment_id'), ['enrollment_id'], unique=False)

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.String(length=4000), nullable=True))
        batch_op.add_column(sa.Column('grading_period_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('published', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('archived_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_assignments_grading_period_id_grading_periods'), 'grading_periods', ['grading_period_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('classes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('capacity', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sourced_id', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_classes_school_id_sourced_id'), ['school_id', 'sourced_id'])

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sourced_id', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_courses_school_id_sourced_id'), ['school_id', 'sourced_id'])

    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dropped_on', sa.Date(), nullable=True))

    with op.batch_alter_table('grades', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum('NONE', 'LATE', 'MISSING', 'EXCUSED', name='gradestatus', native_enum=False, create_constraint=True, length=24), nullable=False, server_default='NONE'))
        batch_op.add_column(sa.Column('late_penalty', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('comment', sa.String(length=2000), nullable=True))

    with op.batch_alter_table('guardian_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('linked_at', models.base.UTCDateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()))

    with op.batch_alter_table('terms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum('OPEN', 'CLOSED', name='termstatus', native_enum=False, create_constraint=True, length=24), nullable=False, server_default='OPEN'))
        batch_op.add_column(sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sourced_id', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_terms_school_id_sourced_id'), ['school_id', 'sourced_id'])
        batch_op.create_foreign_key(batch_op.f('fk_terms_closed_by_id_users'), 'users', ['closed_by_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum('INVITED', 'ACTIVE', 'DEACTIVATED', name='userstatus', native_enum=False, create_constraint=True, length=24), nullable=False, server_default='ACTIVE'))
        batch_op.add_column(sa.Column('deactivated_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_sign_in_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sourced_id', sa.String(length=255), nullable=True))
        batch_op.alter_column('password_hash',
               existing_type=sa.VARCHAR(length=255),
               nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_users_school_id_sourced_id'), ['school_id', 'sourced_id'])
    # is_active becomes the status: deactivated accounts stay deactivated.
    op.execute("UPDATE users SET status = 'DEACTIVATED' WHERE NOT is_active")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_active')

    # Class search matches words of titles like student search does (trigram index on PostgreSQL).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_classes_title_trgm ON classes USING gin (lower(title) gin_trgm_ops)")



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_classes_title_trgm")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_active', sa.BOOLEAN(), nullable=False, server_default=sa.true()))
    op.execute("UPDATE users SET is_active = (status = 'ACTIVE')")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_userstatus'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_users_school_id_sourced_id'), type_='unique')
        batch_op.alter_column('password_hash',
               existing_type=sa.VARCHAR(length=255),
               nullable=False)
        batch_op.drop_column('sourced_id')
        batch_op.drop_column('last_sign_in_at')
        batch_op.drop_column('deactivated_at')
        batch_op.drop_column('status')

    with op.batch_alter_table('terms', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_terms_termstatus'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_terms_closed_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_terms_school_id_sourced_id'), type_='unique')
        batch_op.drop_column('sourced_id')
        batch_op.drop_column('closed_by_id')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('status')

    with op.batch_alter_table('guardian_links', schema=None) as batch_op:
        batch_op.drop_column('linked_at')

    with op.batch_alter_table('grades', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_grades_gradestatus'), type_='check')
        batch_op.drop_column('comment')
        batch_op.drop_column('late_penalty')
        batch_op.drop_column('status')

    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_column('dropped_on')

    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_courses_school_id_sourced_id'), type_='unique')
        batch_op.drop_column('sourced_id')

    with op.batch_alter_table('classes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_classes_school_id_sourced_id'), type_='unique')
        batch_op.drop_column('sourced_id')
        batch_op.drop_column('capacity')

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_assignments_grading_period_id_grading_periods'), type_='foreignkey')
        batch_op.drop_column('archived_at')
        batch_op.drop_column('published')
        batch_op.drop_column('grading_period_id')
        batch_op.drop_column('description')

    with op.batch_alter_table('enrollment_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrollment_changes_enrollment_id'))

    op.drop_table('enrollment_changes')
    with op.batch_alter_table('roster_import_problems', schema=None) as batch_op:
        batch_op.drop_index('ix_roster_import_problems_order')

    op.drop_table('roster_import_problems')
    with op.batch_alter_table('grading_periods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grading_periods_term_id'))

    op.drop_table('grading_periods')
    with op.batch_alter_table('roster_imports', schema=None) as batch_op:
        batch_op.drop_index('ix_roster_imports_school_created')

    op.drop_table('roster_imports')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_user_id'))
        batch_op.drop_index('ix_invitations_school_created')

    op.drop_table('invitations')
    with op.batch_alter_table('emergency_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_contacts_student_id'))

    op.drop_table('emergency_contacts')
