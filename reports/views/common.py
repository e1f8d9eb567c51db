"""What every report's page shares: the permission and spreadsheet-safe text cells."""

from __future__ import annotations

REPORTS_PERM = "reports.view_reports"


def text_cell(text: str) -> str:
    """A name typed by staff, safe in a spreadsheet: a leading = + - @ (a formula) is
    quoted with an apostrophe, as spreadsheets do for text."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
