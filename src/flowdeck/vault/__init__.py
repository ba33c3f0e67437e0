"""Secrets: encrypted at rest, decrypted only in the process that runs an execution,
and masked (`***`) wherever a value would be shown or stored."""
