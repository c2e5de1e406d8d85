"""Errors of the model workflow; the CLI prints any ModelError (or NotFound) and exits non-zero."""

from __future__ import annotations


class ModelError(ValueError):
    """Base class: the message names the input at fault and what to do."""


class ArchError(ModelError):
    """An unknown architecture or a weights file that does not fit the architecture."""


class CheckpointError(ModelError):
    """A checkpoint file is missing, altered, or does not fit its model version."""


class DataError(ModelError):
    """The dataset cannot be used as asked: empty split, one class, labels the model does not know."""


class DuplicateModelError(ModelError):
    """A model of that name exists already."""
