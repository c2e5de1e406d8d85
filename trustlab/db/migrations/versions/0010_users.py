"""accounts: table raters -> users, column handle -> username (staff accounts live there too)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# Constraint names the naming convention gives each side (the other tables' foreign keys are found by
# reflection: fk_<table>_rater_id_raters <-> fk_<table>_rater_id_users).
OLD = {'table': 'raters', 'column': 'handle', 'pk': 'pk_raters', 'uq': 'uq_raters_handle',
       'fk': 'fk_raters_study_id_studies'}
NEW = {'table': 'users', 'column': 'username', 'pk': 'pk_users', 'uq': 'uq_users_username',
       'fk': 'fk_users_study_id_studies'}


def _rename(old: dict, new: dict) -> None:
    # A rename in place, not batch mode: a batch copy of the table would have to drop a table that
    # invites, tokens, assignments and participants reference. SQLite (3.26+) and PostgreSQL both
    # carry the rows and the other tables' foreign keys along with ALTER TABLE ... RENAME.
    op.rename_table(old['table'], new['table'])
    op.execute(f"ALTER TABLE {new['table']} RENAME COLUMN {old['column']} TO {new['column']}")
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return  # SQLite keeps constraint names only in the table's SQL text, unused by queries
    for kind in ('pk', 'uq', 'fk'):
        op.execute(f"ALTER TABLE {new['table']} RENAME CONSTRAINT {old[kind]} TO {new[kind]}")
    inspector = sa.inspect(bind)
    suffix_old, suffix_new = f"_rater_id_{old['table']}", f"_rater_id_{new['table']}"
    for table in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(table):
            name = fk.get('name') or ''
            if fk['referred_table'] == new['table'] and name.endswith(suffix_old):
                renamed = name[: -len(suffix_old)] + suffix_new
                op.execute(f'ALTER TABLE {table} RENAME CONSTRAINT {name} TO {renamed}')


def upgrade() -> None:
    _rename(OLD, NEW)


def downgrade() -> None:
    _rename(NEW, OLD)
