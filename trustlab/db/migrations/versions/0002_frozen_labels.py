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
    # Studies created before this revision froze no label: recover the label each item had when its
    # study was created (its newest revision by then, else its original label), the label the study's
    # frozen model correctness and gold answers were computed against.
    revision_then = (
        "SELECT lr.{column} FROM label_revisions lr JOIN studies st ON st.id = study_items.study_id "
        "WHERE lr.item_id = study_items.item_id AND lr.created_at <= st.created_at "
        "ORDER BY lr.id DESC LIMIT 1"
    )
    op.execute(
        "UPDATE study_items SET "
        f"label_revision_id = ({revision_then.format(column='id')}), "
        f"label = COALESCE(({revision_then.format(column='new_label')}), "
        "(SELECT items.original_label FROM items WHERE items.id = study_items.item_id))"
    )


def downgrade() -> None:
    with op.batch_alter_table('study_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_study_items_label_revision_id_label_revisions'), type_='foreignkey')
        batch_op.drop_column('label_revision_id')
        batch_op.drop_column('label')
