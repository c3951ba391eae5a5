"""Errors the CLI reports as one line."""
import errno
import os


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""

    exit_code = 2


class GenerationError(Exception):
    """A run that cannot complete (a failed worker, a corrupt existing output): exit status 1."""

    exit_code = 1


def first_line(error):
    """The first line of an exception's message (or its type's name): errors from workers and
    storage packages can run over many lines."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


# What an I/O fault while writing the output means, and what to do before rerunning.
_FAULTS = {
    errno.ENOSPC: ("no space left on device", "free space"),
    errno.EDQUOT: ("disk quota exceeded", "free space"),
    errno.EIO: ("I/O error", "check the device"),
    errno.EACCES: ("permission denied", "restore write permission"),
    errno.EPERM: ("permission denied", "restore write permission"),
    errno.EROFS: ("read-only file system", "make it writable"),
}


class OutputError(GenerationError):
    """Writing the output failed part-way (no space, an I/O error, permission lost). What was
    written whole stays, so the same command resumes the run: exit status 1."""

    @classmethod
    def writing(cls, path, error):
        """The error for an OSError raised while writing ``path``."""
        what, remedy = _FAULTS.get(error.errno, ((error.strerror or str(error)).lower(), "fix it"))
        return cls(f"{what} writing {os.fspath(path)}; {remedy} and rerun the same command to resume")
