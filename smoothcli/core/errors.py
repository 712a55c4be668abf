"""The one exception type that means "the user gave bad input" (exit status 2)."""


class InputError(ValueError):
    """Bad user input: the CLI prints ``str(error)`` on one line and exits with status 2."""
