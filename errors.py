"""Typed domain errors and exit codes. The CLI turns each error into one clear line and exit code 2.

Warnings of our own (:class:`ScalesearchWarning`) are shown as one line, ``warning: <message>``,
in a terminal and in Jupyter alike, not as Python's ``file:line: Category: message`` + source.
"""

import warnings

EXIT_USER_ERROR = 2  # a user mistake: one line on stderr, nothing stored is changed
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGTERM (128 + SIGINT), as shells report it


def option(caller: str, flag: str, argument: str, *value: object) -> str:
    """An option as an error names it, in its caller's words: the CLI's ``flag`` (``--rule 'best'``)
    or, for ``caller="python"``, the API's ``argument`` (``rule='best'``); the name alone without
    ``value``. Library checks take ``caller`` (``"cli"``, the default, or ``"python"``)."""
    if caller == "python":
        return argument + (f"={value[0]!r}" if value else "")
    return flag + (f" {value[0]!r}" if value else "")


class ScalesearchError(Exception):
    """A user-facing error: the message says what was wrong and how to fix it."""


class SpecError(ScalesearchError):
    """A study spec or search space is malformed (unknown key, wrong type, bad range)."""


class UnknownNameError(SpecError):
    """A name (family, objective, sampler, preset...) is not registered."""


class StorageError(ScalesearchError):
    """The study storage is unreachable, malformed, or does not hold what was asked for."""


class WarmStartError(ScalesearchError):
    """A study to warm-start from is missing, has other objectives, or has no complete trial."""


class ExportError(ScalesearchError):
    """No trial matches an export request."""


class ReportError(ScalesearchError):
    """A study has nothing to show yet (no complete trial) or a report cannot be written."""


class DataError(ScalesearchError):
    """A dataset cannot be loaded or split as asked."""


class ArtifactError(ScalesearchError):
    """A saved model directory is missing, malformed, or of another format version."""


class OnnxError(ScalesearchError):
    """An ONNX export does not match its PyTorch model, or onnxruntime cannot run it where asked."""


class FamilyError(ScalesearchError):
    """A model family breaks the builder contract (wrong output shape, no gradient, a knob its
    builder does not take), or a family plugin cannot be loaded."""


class ModelBuildError(Exception):
    """A family failed to build a sampled configuration (the trial ends as FAIL, the study goes on)."""


class ScalesearchWarning(UserWarning):
    """Something a user should know that does not stop the command (shown as one line)."""


class DataWarning(ScalesearchWarning):
    """Images left out of a dataset (``on_corrupt: skip``), or a dataset cache that cannot be used."""


_python_format = warnings.formatwarning


def _one_line(message, category, filename, lineno, line=None):  # noqa: ANN001, ANN202 (warnings' signature)
    if isinstance(category, type) and issubclass(category, ScalesearchWarning):
        return f"warning: {message}\n"
    return _python_format(message, category, filename, lineno, line)


warnings.formatwarning = _one_line
