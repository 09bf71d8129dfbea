"""The journey store: online state (leads, events, score history) in SQLite or PostgreSQL."""

from serving.store.store import (
    Erasure,
    Journey,
    JourneyStore,
    LeadRecord,
    NewEvent,
    ScoreRecord,
    StoredLead,
)

__all__ = [
    "Erasure",
    "Journey",
    "JourneyStore",
    "LeadRecord",
    "NewEvent",
    "ScoreRecord",
    "StoredLead",
]
