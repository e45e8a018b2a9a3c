"""Alembic migrations of Cobra's schema."""
