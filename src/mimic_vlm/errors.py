"""The one exception users see: a clear, single-line message that names the problem and where it is."""


class MimicError(Exception):
    """Bad input or an impossible request. The CLI prints `error: <message>` and exits with code 2.

    Raise it with a message that names the problem and its place, e.g.
    ``MimicError("annotations.json: annotation 17 points at image 99, which no image defines")``.
    """

    exit_code = 2
