"""The journey store: online state (leads, events, score history) in SQLite or PostgreSQL.

`store.py` holds the store; `settings.py` only where it lives, so the service's settings and
the CLI's help read it without importing SQLAlchemy.
"""
