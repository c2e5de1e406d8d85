"""Errors the query modules raise."""


class NotFound(LookupError):
    """A named dataset, model, study or item does not exist."""
