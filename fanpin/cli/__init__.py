"""The ``fanpin`` command."""
