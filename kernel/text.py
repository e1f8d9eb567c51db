"""Text helpers shared by forms, services and the API."""

from __future__ import annotations

# Free text (notes, descriptions, addresses, reasons): room for any real note, while a
# pasted file or a hostile post is refused instead of stored.
TEXT_MAX_LENGTH = 5000


def search_text(value: str | None, max_length: int = 100) -> str:
    """A search box's text as typed: at most `max_length` characters, without NUL
    characters (PostgreSQL cannot compare text with them; they are never typed)."""
    return (value or "").replace("\x00", "").strip()[:max_length]
