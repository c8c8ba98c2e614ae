"""Bringing a bureau's files in: reading, table kinds and the Chinese header/value mapping, validation, the report, applying."""
