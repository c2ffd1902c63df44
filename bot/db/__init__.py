"""The database: typed SQLAlchemy models, sessions and Alembic migrations."""
