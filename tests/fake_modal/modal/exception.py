"""The fake `modal` package's error classes: the same names as `modal.exception`."""


class Error(Exception):
    pass


class AuthError(Error):
    pass


class NotFoundError(Error):
    pass


class InvalidError(Error):
    pass


class SandboxTimeoutError(Error):
    pass


class SandboxTerminatedError(Error):
    pass


class ExecTimeoutError(Error):
    pass
