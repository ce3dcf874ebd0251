"""Typed domain errors. The CLI turns each into one clear line and exit code 2."""


class ScalesearchError(Exception):
    """A user-facing error: the message says what was wrong and how to fix it."""


class SpecError(ScalesearchError):
    """A study spec or search space is malformed (unknown key, wrong type, bad range)."""


class UnknownNameError(SpecError):
    """A name (family, objective, sampler, preset...) is not registered."""


class StorageError(ScalesearchError):
    """The study storage is unreachable, malformed, or does not hold what was asked for."""


class ExportError(ScalesearchError):
    """No trial matches an export request."""


class DataError(ScalesearchError):
    """A dataset cannot be loaded or split as asked."""


class ArtifactError(ScalesearchError):
    """A saved model directory is missing, malformed, or of another format version."""
