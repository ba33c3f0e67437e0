"""User workflows: documents, validation of definitions and configs, import/export."""
