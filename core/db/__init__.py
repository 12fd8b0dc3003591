"""Catalogue and account database: SQLAlchemy 2 models, sessions and Alembic migrations."""
