"""Subcommands of the `aiinfra` CLI, one module each."""
