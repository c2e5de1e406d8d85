"""The `Explainer` base class and the registry of explanation methods.

Like pytorch-grad-cam's ``BaseCAM``, the base class drives the fixed steps of every method —
validate the batch, copy it onto the model's device, pick the target classes, attribute, check
the result — and each method overrides one step, :meth:`Explainer.attribute`. Explainers are
context managers: ``with get_explainer("gradcam")(model) as ex: ex.explain(x)`` releases every
hook on exit. They never modify the caller's tensors (they work on a detached copy).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from trustlab.explanation_methods import METHOD_NAMES, METHODS, MethodSpec

# Pixel mean/std used when the caller gives none: the tensor is taken to be in [0, 1] already.
IDENTITY_MEAN = (0.0, 0.0, 0.0)
IDENTITY_STD = (1.0, 1.0, 1.0)


class ExplainError(ValueError):
    """An explanation cannot be computed with the given model, input or parameters."""


@dataclass
class Attribution:
    """What one call of :meth:`Explainer.explain` returns for a batch of N images.

    maps: float32 [N, H, W] saliency at the input resolution (larger = more evidence for the
        target), or None for example-based methods (twins).
    targets: the N class indices explained.
    extras: N dicts of method-specific data (LIME: segments, sampled masks, coefficients).
    neighbours: for twins, N lists of ``{"index", "similarity", "label"}`` (gallery positions).
    """

    maps: np.ndarray | None
    targets: list[int]
    extras: list[dict[str, Any]] = field(default_factory=list)
    neighbours: list[list[dict[str, Any]]] | None = None


# Every built-in method, by catalogue name. Complete for any reader: importing any trustlab.explain
# module first runs the package's __init__, which imports every method module (and so registers it).
EXPLAINERS: dict[str, type[Explainer]] = {}


def register(cls: type[Explainer]) -> type[Explainer]:
    """Class decorator: attach an explainer to its catalogue entry and add it to :data:`EXPLAINERS`.

    ``cls.name`` must be a name in :data:`trustlab.explanation_methods.METHODS`; the class takes its
    ``spec``, ``default_params`` and ``kind`` from that entry, so they are written down once.
    """
    if cls.name not in METHODS:
        raise ValueError(
            f"explainer {cls.__name__} is named {cls.name!r}, which is not in the method catalogue: "
            "add an entry to trustlab/explanation_methods.py first"
        )
    if cls.name in EXPLAINERS:
        taken = EXPLAINERS[cls.name].__name__
        raise ValueError(f"explainer name {cls.name!r} is already registered by {taken}")
    spec = METHODS[cls.name]
    cls.spec = spec
    cls.default_params = spec.params
    cls.optional_params = spec.optional
    cls.kind = "examples" if spec.display == "examples" else "map"
    EXPLAINERS[cls.name] = cls
    return cls


def get_explainer(name: str) -> type[Explainer]:
    """The explainer class registered under ``name`` (e.g. ``"gradcam"``, ``"lime"``)."""
    try:
        return EXPLAINERS[name]
    except KeyError:
        known = ", ".join(METHOD_NAMES)
        raise ExplainError(f"unknown explanation method {name!r}; known methods: {known}") from None


def canonical_params(params: dict[str, Any]) -> str:
    """Stable JSON of a parameter dict (sorted keys, no spaces): equal params -> equal string."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


def params_key(method: str, params: dict[str, Any]) -> str:
    """sha256 hex of the method name and its canonical parameters (Explanation.params_key)."""
    return hashlib.sha256(f"{method}|{canonical_params(params)}".encode()).hexdigest()


class Explainer:
    """Base of every explanation method.

    Parameters
    ----------
    model: a classifier mapping a normalised float batch [N, 3, H, W] to logits [N, C].
    mean, std: the per-channel normalisation the model expects (pixel = x * std + mean, pixels in
        [0, 1]); methods that need pixel values (LIME's segmentation, black hide colour) use them.
    **params: method parameters; unknown names raise :class:`ExplainError`. Defaults are the
        catalogue entry's (``default_params``); :attr:`params` holds the merged values. The entry's
        ``optional`` names (no default) are accepted too and appear in :attr:`params` only when given.
    """

    name: ClassVar[str] = ""
    # Set by :func:`register` from the catalogue entry of ``name``.
    spec: ClassVar[MethodSpec]
    kind: ClassVar[str] = "map"  # "map" (saliency) or "examples" (twins)
    default_params: ClassVar[Mapping[str, Any]] = {}
    # Parameters without a default (e.g. CAM's target_layer): accepted, recorded only when given.
    optional_params: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        model: nn.Module,
        *,
        mean: tuple[float, float, float] = IDENTITY_MEAN,
        std: tuple[float, float, float] = IDENTITY_STD,
        **params: Any,
    ) -> None:
        unknown = sorted(set(params) - set(self.default_params) - set(self.optional_params))
        if unknown:
            allowed = ", ".join(sorted({*self.default_params, *self.optional_params})) or "none"
            raise ExplainError(f"{self.name}: unknown parameter(s) {unknown}; allowed: {allowed}")
        self.model = model
        self.params: dict[str, Any] = {**self.default_params, **params}
        self.device = next(model.parameters()).device
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    # -- the one step a method overrides -------------------------------------------------------
    def attribute(self, x: torch.Tensor, targets: list[int]) -> Attribution:
        """Explain ``targets`` for the batch ``x`` [N, 3, H, W] (a private copy on the device)."""
        raise NotImplementedError

    # -- fixed steps ---------------------------------------------------------------------------
    def explain(self, x: torch.Tensor, targets: list[int] | None = None) -> Attribution:
        """Explain a batch.

        Parameters
        ----------
        x: float tensor [N, 3, H, W] or [3, H, W], normalised as the model expects. Not modified.
        targets: N class indices to explain; None explains each image's predicted class.

        Returns
        -------
        Attribution with maps float32 [N, H, W] (or neighbours for twins).
        """
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if x.ndim != 4 or x.shape[1] != 3:
            raise ExplainError(f"{self.name}: expected a batch [N, 3, H, W], got shape {tuple(x.shape)}")
        x = x.detach().to(self.device, dtype=torch.float32).clone()
        if targets is None:
            targets = self.predicted_classes(x)
        targets = [int(t) for t in targets]
        if len(targets) != x.shape[0]:
            raise ExplainError(f"{self.name}: {len(targets)} targets for a batch of {x.shape[0]} images")
        result = self.attribute(x, targets)
        if result.maps is not None:
            maps = np.nan_to_num(np.asarray(result.maps, dtype=np.float32))
            if maps.shape != (x.shape[0], x.shape[2], x.shape[3]):
                raise ExplainError(f"{self.name}: map shape {maps.shape} does not match the input")
            result.maps = maps
        if not result.extras:
            result.extras = [{} for _ in targets]
        return result

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax probabilities [N, C] of the model for a normalised batch."""
        return torch.softmax(self.model(x), dim=1)

    def predicted_classes(self, x: torch.Tensor) -> list[int]:
        return self.predict_proba(x).argmax(dim=1).tolist()

    def to_pixels(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation: pixels in [0, 1], same shape."""
        return (x * self.std + self.mean).clamp(0.0, 1.0)

    def from_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels - self.mean) / self.std

    # -- resources -----------------------------------------------------------------------------
    def close(self) -> None:
        """Release hooks and cached tensors; methods holding resources override this."""

    def __enter__(self) -> Explainer:
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        self.close()
