"""accounts can be disabled, invites carry the simulated flag, every token expires

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 10:00:00
"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Tokens issued before this revision without an expiry get the staff sign-in lifetime from now
# (trustlab.platform.auth.STAFF_TOKEN_TTL, copied: a migration must not change when the code does).
LEGACY_TOKEN_TTL = timedelta(hours=12)


def upgrade() -> None:
    op.add_column('raters', sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('simulated', sa.Boolean(), server_default=sa.false(), nullable=False))
    # Raters who arrived through the rater simulator's invites were marked by the client; keep
    # that record on their invites.
    op.execute(
        "UPDATE invites SET simulated = (SELECT raters.simulated FROM raters WHERE raters.id = invites.rater_id) "
        "WHERE rater_id IS NOT NULL"
    )
    tokens = sa.table('auth_tokens', sa.column('expires_at', sa.DateTime(timezone=True)))
    op.execute(
        tokens.update().where(tokens.c.expires_at.is_(None)).values(expires_at=datetime.now(UTC) + LEGACY_TOKEN_TTL)
    )
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index(batch_op.f('ix_auth_tokens_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_tokens_rater_id'), ['rater_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_tokens_rater_id'))
        batch_op.drop_index(batch_op.f('ix_auth_tokens_expires_at'))
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=True)
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.drop_column('simulated')
    # Not in batch mode: on SQLite that copies `raters`, which other tables' foreign keys forbid
    # (ALTER TABLE ... DROP COLUMN needs SQLite 3.35, 2021).
    op.drop_column('raters', 'disabled_at')
