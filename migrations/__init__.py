"""Alembic migrations and the helper that runs them (`python server.py migrate`)."""
