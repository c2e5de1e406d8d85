"""judgements: idempotency keys unique per assignment, one successor per judgement

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 15:30:00
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# An assignment whose answers raced before this revision may have a forked chain (two judgements
# superseding one, or two first answers): relink its judgements in id order, each superseding the
# one before it. The newest judgement stays the current answer, as it was.
RELINK_FORKED_CHAINS = """
UPDATE judgements SET supersedes_id = (
    SELECT max(earlier.id) FROM judgements earlier
    WHERE earlier.assignment_id = judgements.assignment_id AND earlier.id < judgements.id
)
WHERE assignment_id IN (
    SELECT assignment_id FROM judgements GROUP BY assignment_id
    HAVING count(*) - count(DISTINCT supersedes_id) > 1
)
"""


def upgrade() -> None:
    op.execute(RELINK_FORKED_CHAINS)
    with op.batch_alter_table('judgements', schema=None) as batch_op:
        batch_op.drop_constraint('uq_judgements_idempotency_key', type_='unique')
        batch_op.create_index('ux_judgements_assignment_key', ['assignment_id', 'idempotency_key'], unique=True)
        batch_op.create_index('ux_judgements_supersedes_id', ['supersedes_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('judgements', schema=None) as batch_op:
        batch_op.drop_index('ux_judgements_supersedes_id')
        batch_op.drop_index('ux_judgements_assignment_key')
        batch_op.create_unique_constraint('uq_judgements_idempotency_key', ['idempotency_key'])
