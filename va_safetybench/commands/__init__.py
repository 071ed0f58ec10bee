"""Subcommands of `va-bench` (see cli.py for the contract each module follows)."""
