"""CFDI 4.0 import: a fast field extractor and the ingestion into the books.

Call `import_sources` with paths or `(name, bytes)` pairs; see `ingest.py`.
"""

from flows.cfdi.extract import Cfdi, PaidDocument, read_cfdi
from flows.cfdi.ingest import ImportReport, Rejection, import_in_session, import_sources
from flows.cfdi.sources import Document, count_documents, iter_documents

__all__ = [
    "Cfdi",
    "Document",
    "ImportReport",
    "PaidDocument",
    "Rejection",
    "count_documents",
    "import_in_session",
    "import_sources",
    "iter_documents",
    "read_cfdi",
]
