"""Alembic migrations of the domain database (run them with ``queue-system db upgrade``)."""
