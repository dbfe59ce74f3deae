"""Exceptions raised by llmc."""


class Error(Exception):
    """Base class of every llmc error."""


class CompileError(Error):
    """Importing, parsing, optimizing, compiling or analyzing failed.

    The message is the compiler's: the file and the problem, and for IR the
    MLIR diagnostics with their locations.
    """


class RunError(Error):
    """The runtime refused or failed a call (loading an artifact, a forward
    step, sampling, a tokenizer).

    ``code`` names the runtime status: ``"invalid_argument"``,
    ``"io_error"``, ``"bad_artifact"``, ``"unsupported"``,
    ``"out_of_range"`` or ``"internal"``.
    """

    def __init__(self, message: str, code: str = "internal"):
        super().__init__(message)
        self.code = code
