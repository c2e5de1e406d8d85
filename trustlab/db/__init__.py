"""The database: the schema, engines (SQLite in WAL mode by default, PostgreSQL), migrations, and one
query module per entity in ``queries/``. The only package that imports SQLAlchemy; every transaction
opens through ``engine.unit_of_work``.
"""
