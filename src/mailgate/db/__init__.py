"""Database: SQLAlchemy Core tables, the engine factory and Alembic migrations."""
