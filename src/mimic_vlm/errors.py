"""The one exception users see: a clear, single-line message that names the problem and where it is."""


class MimicError(Exception):
    """Bad input or an impossible request. The CLI prints `error: <message>` and exits with code 2.

    Raise it with a message that names the problem and its place, e.g.
    ``MimicError("annotations.json: annotation 17 points at image 99, which no image defines")``.
    """

    exit_code = 2


def first_line(e: BaseException) -> str:
    """An exception's message cut to its first line (its type when it has none): third-party errors run to
    many lines, and an `error:` line is one."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def cannot_read(e: BaseException, where: object) -> MimicError:
    """A file that could not be read (an OSError, or text that is not UTF-8) as one line naming it and why."""
    return MimicError(f"{where}: cannot read ({getattr(e, 'strerror', None) or e})")


def os_error(e: OSError, path: object = None) -> MimicError:
    """An OSError (read-only folder, full disk, a file where a folder should be) as one line naming the path
    and the errno, which is what the user can act on."""
    import errno

    code = errno.errorcode.get(e.errno, "") if e.errno is not None else ""
    where = " -> ".join(str(f) for f in (e.filename if path is None else path, e.filename2) if f is not None)
    return MimicError(f"{where or 'file system'}: {e.strerror or e}{f' ({code})' if code else ''}")
