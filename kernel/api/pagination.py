"""Page-number pagination with a bounded page size."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """`?page=` and `?page_size=` (default 50, at most 200).

    A `page_size` that is not a whole number from 1 to 200 is refused (400 on
    `page_size`), never silently replaced by the default: an integrator asking for 500
    rows a page must learn that they get at most 200, not miss rows unknowingly.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        text = value.strip()
        size = int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"Enter a whole number of rows from 1 to {self.max_page_size}."
                    ]
                }
            )
        return size

    def get_schema_operation_parameters(self, view) -> list[dict]:
        """The schema says the page size's range (the 400 above refuses the rest)."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    **parameter["schema"],
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
                parameter["description"] = (
                    f"Rows per page, 1 to {self.max_page_size} (50 by default)."
                )
        return parameters
