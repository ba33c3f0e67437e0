"""Database layer: embedded server, connections, migrations, schema verification."""
