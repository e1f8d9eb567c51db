"""Bad input, answered (issue "Trust", section 5).

A battery of odd and hostile input sent through the staff page forms and the REST API:
empty, 10,000-character and NUL-containing strings; credits 0, -1, 1.5; amounts with a
third decimal, huge, NaN and Infinity; impossible dates and times inside the DST gap of
the practice's time zone (Australia/Sydney: 2026-10-04 02:30 does not exist); expiry
before start; refunds above the paid amount; payments on void invoices; links to
expired, completed and other clients' packages; unlinking twice; ids that do not exist
or are out of range in URLs, form fields and JSON bodies; the wrong content type;
deeply nested JSON; emoji and right-to-left names; and `<script>` in every text field.

Every refusal is a 4xx (pages: 400 invalid, 409 refused, 404 unknown id; API: 400, 404,
409, 415), never a 500; it says why (the message beside the field, or above the form);
and it leaves the database exactly as it was (`fingerprint()` of every table the product
writes). Odd but valid input (emoji, right-to-left, `<script>` in a name) is stored as
typed, escaped in every page that shows it, and returned verbatim by the API.
"""
