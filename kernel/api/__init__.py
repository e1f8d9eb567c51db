"""The REST API's framework pieces, one small module each: `parsing` (JSON only),
`errors` (the one exception handler), `pagination`, `permissions` (roles), `throttling`,
`idempotency`, `viewsets` (the base every resource of `/api/v1/` builds on), `fields`,
`schema` and `filters`.

The API is one more thin delivery layer over the services (like the pages and the
admin): viewsets validate input with an input serializer, call the service with
`by=request.user`, and render the result with an output serializer. Refusals travel as
exceptions and become responses here, in one place:

- `DomainError` (a business rule refused) → 409 `{"detail", "code"}`;
  `NotAllowed` (the role may not) → 403 with code `permission_denied`;
- invalid input → 400 `{"field": ["message"]}`; unknown ids → 404;
- malformed JSON, too deep or too large bodies → 400; other media types → 415.
"""
