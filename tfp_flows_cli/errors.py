"""One-line errors and warnings of the ``tfp-flows`` command (no TensorFlow, no NumPy)."""

PROG = "tfp-flows"
ERROR_PREFIX = f"{PROG}: error: "
WARNING_PREFIX = f"{PROG}: warning: "
_MAX_MESSAGE = 600


class CLIError(Exception):
    """Bad input or a failed step, reported as one ``tfp-flows: error: ...`` line."""


def error_line(message):
    """``message`` as one line (newlines folded, long messages cut) after the prefix.

    Example:
        >>> error_line("bad\\nthing")
        'tfp-flows: error: bad thing'
    """
    text = " ".join(str(message).split())
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 3] + "..."
    return ERROR_PREFIX + text


def warning_line(message):
    """``message`` as one ``tfp-flows: warning: ...`` line."""
    return WARNING_PREFIX + error_line(message)[len(ERROR_PREFIX):]


def first_line(err):
    """The first non-empty line of an exception's message (TF errors run to pages)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__
