"""pre-registration: whether a study's analysis block was written by its researcher, and the block's
record at the first `study open`

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 23:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Studies created before this revision stored their analysis defaults like a written block, so
    # nothing tells them apart: they count as not declared (never over-claim pre-registration).
    # A plain ADD COLUMN (no batch copy of `studies`, which other tables reference with cascades).
    op.add_column('studies', sa.Column('analysis_declared', sa.Boolean(), server_default=sa.false(),
                                       nullable=False))
    op.create_table('study_preregistrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('analysis', sa.JSON(), nullable=False),
    sa.Column('analysis_sha256', sa.String(length=64), nullable=False),
    sa.Column('declared', sa.Boolean(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('judgements_before', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'],
                            name=op.f('fk_study_preregistrations_study_id_studies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_preregistrations')),
    sa.UniqueConstraint('study_id', name=op.f('uq_study_preregistrations_study_id'))
    )


def downgrade() -> None:
    op.drop_table('study_preregistrations')
    op.drop_column('studies', 'analysis_declared')
