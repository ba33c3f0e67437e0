"""The one way Flowdeck reads a YAML or JSON document that a person sends: request bodies,
imports, the editor's text, form fields, webhook bodies, the CLI's files, the catalog.

It owns parsing with limits (`limits`: how many nodes, how deep, how much text once
YAML's aliases are expanded; the errors), YAML (`yaml_loader`: a safe loader whose
composer counts as it goes) and JSON (`json_loader`). What a document means (a
definition, an import) is checked by its own module afterwards; this package only
makes sure there is a bounded document to check.
"""

from __future__ import annotations

from flowdeck.documents.json_loader import load_json
from flowdeck.documents.limits import (
    DEFAULT_LIMITS,
    DocumentError,
    DocumentLimits,
    DocumentRefusedError,
    DocumentTooComplexError,
    MalformedDocumentError,
)
from flowdeck.documents.text import UnstorableValueError, text_problem
from flowdeck.documents.yaml_loader import BoundedSafeLoader, load_yaml, load_yaml_tree

__all__ = [
    "DEFAULT_LIMITS",
    "BoundedSafeLoader",
    "DocumentError",
    "DocumentLimits",
    "DocumentRefusedError",
    "DocumentTooComplexError",
    "MalformedDocumentError",
    "UnstorableValueError",
    "load_json",
    "load_yaml",
    "load_yaml_tree",
    "text_problem",
]
