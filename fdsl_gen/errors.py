"""Errors the CLI reports as one line."""


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""

    exit_code = 2


class GenerationError(Exception):
    """A run that cannot complete (a failed worker, a corrupt existing output): exit status 1."""

    exit_code = 1
