"""Errors that the command line turns into a one-line message and exit status 2."""


class InputError(Exception):
    """Bad user input (a file, an item, an option): reported in one line, exit 2."""


class CheckFailed(Exception):
    """A verification found a problem (build --check, regress): reported, exit 1."""
