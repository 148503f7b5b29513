"""One module per revision; Alembic skips this file."""
