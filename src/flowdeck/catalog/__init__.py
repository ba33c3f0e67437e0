"""The built-in template catalog: YAML files shipped in `catalog/builtin`, loaded and checked."""

from __future__ import annotations

from flowdeck.catalog.loader import (
    BuiltinTemplate,
    CatalogError,
    load_builtin_templates,
    load_template_text,
    load_templates_from,
)

__all__ = [
    "BuiltinTemplate",
    "CatalogError",
    "load_builtin_templates",
    "load_template_text",
    "load_templates_from",
]
