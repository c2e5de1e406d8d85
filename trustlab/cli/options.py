"""Wide verbs take one options object: ``@options_from(TrainFlags)`` on a command.

Typer reads a command's flags from ``inspect.signature``, which honours ``__signature__``. A verb with
many flags declares them once, as the fields of a keyword-only dataclass, each
``Annotated[type, typer.Option(...)] = default``; :func:`options_from` gives the command a signature
made of those fields (then the command's own remaining parameters, such as ``as_json``) and calls it
with one instance of the dataclass. ``--help`` lists the fields as flags, in field order, with their
defaults.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


def _field_parameters(options_type: type) -> list[inspect.Parameter]:
    hints = typing.get_type_hints(options_type, include_extras=True)
    parameters = []
    for field in dataclasses.fields(options_type):
        default = field.default if field.default is not dataclasses.MISSING else inspect.Parameter.empty
        parameters.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                            annotation=hints[field.name]))
    return parameters


def options_from(options_type: type) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A decorator: the command's first parameter becomes the flags of ``options_type`` (a dataclass)."""
    if not dataclasses.is_dataclass(options_type):
        raise TypeError(f"options_from needs a dataclass, got {options_type!r}")

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        own = list(inspect.signature(command).parameters.values())[1:]
        hints = typing.get_type_hints(command, include_extras=True)
        own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in own]
        fields = _field_parameters(options_type)
        names = [p.name for p in fields]
        clash = set(names) & {p.name for p in own}
        if clash:
            raise TypeError(f"{command.__name__}: parameters {sorted(clash)} are also option fields")

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> R:
            options = options_type(**{name: kwargs.pop(name) for name in names})
            return command(options, **kwargs)

        parameters = [*fields, *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own)]
        wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        del wrapper.__wrapped__  # typer must see the options' signature, not the command's
        return wrapper

    return decorate
