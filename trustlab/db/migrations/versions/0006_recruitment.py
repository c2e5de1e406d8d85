"""recruitment: participants of link-mode studies, their practice and attention answers, study codes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'participants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.Integer(), nullable=False),
        sa.Column('rater_id', sa.Integer(), nullable=False),
        sa.Column('pid', sa.String(length=200), nullable=False),
        sa.Column('platform', sa.String(length=20), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('status_reason', sa.String(length=200), nullable=True),
        sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('instructions_opened', sa.Integer(), nullable=False),
        sa.Column('instructions_first_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('instructions_last_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attention_failures', sa.Integer(), nullable=False),
        sa.Column('gold_failures', sa.Integer(), nullable=False),
        sa.Column('completion_code', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['rater_id'], ['raters.id'], name=op.f('fk_participants_rater_id_raters'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_participants_study_id_studies'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_participants')),
        sa.UniqueConstraint('rater_id', name=op.f('uq_participants_rater_id')),
        sa.UniqueConstraint('study_id', 'pid', name=op.f('uq_participants_study_id_pid')),
    )
    op.create_index('ix_participants_study_status', 'participants', ['study_id', 'status'], unique=False)
    op.create_table(
        'participant_answers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('index', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=True),
        sa.Column('answers', sa.JSON(), nullable=False),
        sa.Column('correct', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_participant_answers_item_id_items')),
        sa.ForeignKeyConstraint(['participant_id'], ['participants.id'],
                                name=op.f('fk_participant_answers_participant_id_participants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_participant_answers')),
        sa.UniqueConstraint('participant_id', 'kind', 'index',
                            name=op.f('uq_participant_answers_participant_id_kind_index')),
    )
    op.create_index(op.f('ix_participant_answers_participant_id'), 'participant_answers', ['participant_id'],
                    unique=False)
    op.create_table(
        'study_recruitment',
        sa.Column('study_id', sa.Integer(), nullable=False),
        sa.Column('completion_code', sa.String(length=64), nullable=False),
        sa.Column('screenout_code', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_study_recruitment_study_id_studies'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('study_id', name=op.f('pk_study_recruitment')),
    )


def downgrade() -> None:
    op.drop_table('study_recruitment')
    op.drop_index(op.f('ix_participant_answers_participant_id'), table_name='participant_answers')
    op.drop_table('participant_answers')
    op.drop_index('ix_participants_study_status', table_name='participants')
    op.drop_table('participants')
