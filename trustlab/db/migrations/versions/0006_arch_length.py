"""model_versions.arch: 200 characters, for names like python:my_lab.models.vision:build_classifier

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 18:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.alter_column('arch', existing_type=sa.String(length=50), type_=sa.String(length=200),
                              existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.alter_column('arch', existing_type=sa.String(length=200), type_=sa.String(length=50),
                              existing_nullable=False)
