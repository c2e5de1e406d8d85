"""studies record who unblinded their outcome numbers, when and why

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('study_unblindings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_study_unblindings_study_id_studies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_unblindings'))
    )
    with op.batch_alter_table('study_unblindings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_unblindings_study_id'), ['study_id'], unique=False)
    # A study closed before this revision has had its numbers open to anyone: record that, so that
    # reopening it does not pretend it is blinded again.
    op.execute(
        "INSERT INTO study_unblindings (study_id, source, actor, reason, created_at) "
        "SELECT id, 'close', 'migration 0003', 'closed before unblinding was recorded', CURRENT_TIMESTAMP "
        "FROM studies WHERE status = 'closed'"
    )


def downgrade() -> None:
    with op.batch_alter_table('study_unblindings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_unblindings_study_id'))
    op.drop_table('study_unblindings')
