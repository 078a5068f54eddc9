"""Local storage: the ``Store`` interface services use, and its SQLite implementation."""

from esimdesk.store.repository import Store  # noqa: F401
from esimdesk.store.sqlite_store import SqliteStore, open_store  # noqa: F401
