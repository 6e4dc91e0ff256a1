"""Exit codes and the errors that carry them: every command fails with one sentence, never a traceback.

Scripts branch on the code (``mloop retrain --wait`` in CI, ``mloop approve`` in a pipeline), so the
meaning of each number is fixed here and printed in ``mloop --help``.
"""

from __future__ import annotations

__all__ = [
    "CONFIG",
    "EXIT_CODES",
    "FAILED",
    "OK",
    "TIMEOUT",
    "ApiError",
    "CliError",
    "ConfigError",
    "NotFound",
    "Refused",
]

OK = 0
FAILED = 1
CONFIG = 2
TIMEOUT = 4

EXIT_CODES = """\
exit codes:
  0  done (for read commands: the objects were shown)
  1  refused or failed: the object is missing, the action does not apply to its current state (nothing
     was written), a followed training run failed or its version was rejected by the gate
  2  usage or environment error: bad arguments, no kubeconfig or unknown context, API server unreachable,
     mloop CRDs not installed, credentials rejected, S3 not configured or unreachable
  3  `mloop local status`: the embedded control plane is not running
  4  `mloop retrain --wait`: timed out before the run finished
"""


class CliError(Exception):
    """A failure to report as ``mloop: <message>`` with exit code ``code``."""

    code = FAILED

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(CliError):
    """Where to connect (kubeconfig, context, S3) is missing or wrong, or the server cannot be used."""

    code = CONFIG


class NotFound(CliError):
    """The named object does not exist."""


class Refused(CliError):
    """The action does not apply to the object's current state; nothing was written."""


class ApiError(CliError):
    """The API server answered with an error status (``status`` is the HTTP code, ``reason`` its Status)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message, CONFIG if status in (401, 403) else FAILED)
        self.status = status
        self.reason = reason
