"""calendar_app.grid's markup helpers: the column header links are what the `{% query %}`
tag writes, and `splice` puts the large markup where the template shows its placeholder."""

from __future__ import annotations

from django.template import Context, Template
from django.test import RequestFactory

from calendar_app.grid import _query_link, placeholder, splice


def _tag(query_string: str, **changes: str) -> str:
    request = RequestFactory().get(f"/calendar/?{query_string}")
    arguments = " ".join(f"{key}='{value}'" for key, value in changes.items())
    template = Template("{% load caspen_tags %}{% query " + arguments + " %}")
    return template.render(Context({"request": request}))


def test_header_links_match_the_query_tag():
    for query_string in [
        "",
        "date=2026-12-07",
        "view=day&x=a%26b&page=2",
        "practitioner=4&view=week",
    ]:
        request = RequestFactory().get(f"/calendar/?{query_string}")
        by_day = _query_link(request.GET, "date", view="day")
        by_practitioner = _query_link(request.GET, "practitioner", view="week")
        assert by_day("2026-12-08") == _tag(query_string, view="day", date="2026-12-08")
        assert by_practitioner("17") == _tag(query_string, view="week", practitioner="17")


def test_splice_puts_each_piece_where_its_placeholder_is():
    page = f"<main>{placeholder('grid')}<p>x</p>{placeholder('rows')}</main>".encode()
    spliced = splice(page, {"grid": ["<a>1</a>", "<a>–2</a>"], "rows": ["<tr></tr>"], "none": []})
    assert spliced.decode() == "<main><a>1</a><a>–2</a><p>x</p><tr></tr></main>"
    assert splice(b"<main></main>", {"grid": ["<a></a>"]}) == b"<main></main>"
