"""The built-in template catalog: YAML files shipped in `catalog/builtin`, loaded and checked
(`loader`), and synced into the database (`sync`)."""
