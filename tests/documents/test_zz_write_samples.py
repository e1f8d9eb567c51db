import os

import pytest

from documents.rendering import document_pdf
from documents.selectors import (
    client_statement_document,
    default_statement_period,
    invoice_document,
    package_statement_document,
    receipt_document,
)


@pytest.mark.skipif(not os.environ.get("H2_SAMPLES"), reason="samples on demand")
def test_write_samples(billed):
    os.makedirs("/tmp/h2pdf", exist_ok=True)
    docs = {
        "invoice": invoice_document(billed.invoice),
        "receipt": receipt_document(billed.payment),
        "package": package_statement_document(billed.client_package),
        "client": client_statement_document(billed.invoice.client, *default_statement_period()),
    }
    for name, doc in docs.items():
        with open(f"/tmp/h2pdf/{name}.pdf", "wb") as f:
            f.write(document_pdf(doc))
