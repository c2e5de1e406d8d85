"""study items freeze the label they are scored against

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 14:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('study_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('label_revision_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_study_items_label_revision_id_label_revisions'), 'label_revisions',
            ['label_revision_id'], ['id'],
        )
    # Studies created before this revision froze no label: the item's label now is the best record left.
    op.execute(
        "UPDATE study_items SET label = (SELECT items.current_label FROM items WHERE items.id = study_items.item_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('study_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_study_items_label_revision_id_label_revisions'), type_='foreignkey')
        batch_op.drop_column('label_revision_id')
        batch_op.drop_column('label')
