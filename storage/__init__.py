"""Cobra's persistence: SQLAlchemy 2 models, query functions and Alembic migrations."""
