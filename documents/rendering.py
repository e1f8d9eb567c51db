"""Documents as HTML (the print views and the public page) and as PDF (WeasyPrint).

One template per document, `templates/documents/<kind>.html`: the A4 sheet, included by
the print view's page and by the PDF's bare page. Both are styled by the app's one
stylesheet (its print rules), so paper, PDF and screen agree.
"""

from __future__ import annotations

import logging
from functools import cache

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

from documents.selectors import Document

PDF_PAGE = "documents/pdf.html"


@cache
def _stylesheets() -> list:
    """The app's stylesheet with its print rules, parsed once per process.

    WeasyPrint warns about each screen-only feature it skips there (container queries,
    pointer media...); none concerns the sheet, so only its errors are logged."""
    from weasyprint import CSS

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    path = finders.find("css/app.css")
    if not path:  # pragma: no cover - a broken checkout
        raise RuntimeError("static/css/app.css is missing")
    return [CSS(filename=path, media_type="print")]


def document_html(document: Document) -> str:
    """The PDF's page: the sheet alone, no navigation, no script."""
    return render_to_string(PDF_PAGE, {"document": document, **document.context})


def document_pdf(document: Document) -> bytes:
    """The document as a PDF (A4). Images are inline (`data:` URIs): nothing is fetched."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # Only `data:` URIs: a document never makes the server fetch an address or a file.
    fetcher = URLFetcher(allowed_protocols={"data"})
    html = HTML(string=document_html(document), base_url=None, url_fetcher=fetcher)
    return html.write_pdf(stylesheets=_stylesheets())
