"""Pretrained weights from a local file: read a state dict, fit it to a freshly built model.

Accepted files: a plain torch state dict, a checkpoint holding one under ``state_dict`` or ``model``
(trustlab's and timm's training scripts), or a ``.safetensors`` file. Nothing is downloaded.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import torch
from torch import nn

from trustlab.models.errors import ArchError

log = logging.getLogger(__name__)
# Keys under which training scripts store the state dict inside a checkpoint (trustlab, timm).
STATE_DICT_KEYS = ("state_dict", "model")
# nn.DataParallel / DistributedDataParallel prefix every key with this.
PARALLEL_PREFIX = "module."
# How many key names an error message lists before it says "and N more".
KEYS_SHOWN = 5


def _brief(keys: list[str]) -> str:
    shown = ", ".join(keys[:KEYS_SHOWN])
    return shown + (f" and {len(keys) - KEYS_SHOWN} more" if len(keys) > KEYS_SHOWN else "")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a file (see the module docstring for the formats); ArchError if unreadable."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            obj = load_file(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - any parse failure means "not a safetensors file"
            raise ArchError(f"{path} is not a readable safetensors file: {exc}") from exc
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a state dict"
            raise ArchError(f"{path} is not a readable torch state-dict file: {exc}") from exc
    if isinstance(obj, dict):
        for key in STATE_DICT_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ArchError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    if all(k.startswith(PARALLEL_PREFIX) for k in obj):
        obj = {k[len(PARALLEL_PREFIX):]: v for k, v in obj.items()}
    return obj


def _timm_filter(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's own checkpoint filter for the model's family (e.g. a ViT's position embeddings resampled
    to the model's image size), as ``timm.create_model(pretrained=True)`` would apply it."""
    module_name = type(model).__module__
    filter_fn = getattr(sys.modules.get(module_name), "checkpoint_filter_fn", None)
    if not module_name.startswith("timm.") or not callable(filter_fn):
        return state
    try:
        return filter_fn(dict(state), model)
    except Exception as exc:  # noqa: BLE001 - unfiltered keys are checked (and reported) below
        log.info("timm's checkpoint filter for %s did not apply: %s", type(model).__name__, exc)
        return state


def fit_weights(model: nn.Module, path: Path, *, arch: str, head_prefix: str,
                always_drop_head: bool = False) -> list[str]:
    """Load every weight of ``path`` into ``model`` except head keys that do not fit.

    head_prefix: the head's state-dict prefix (e.g. ``"fc."``). Head keys whose shape differs from
    the model's (another class count) are dropped with a note; ``always_drop_head`` drops them all.
    Any other missing, unexpected or reshaped key raises ArchError naming them.
    Returns the notes (what was dropped), for the caller to show and record.
    """
    source = _timm_filter(model, read_state_dict(path))
    target = model.state_dict()
    notes: list[str] = []
    head_source = sorted(k for k in source if k.startswith(head_prefix))
    dropped = head_source if always_drop_head else [
        k for k in head_source if k not in target or source[k].shape != target[k].shape]
    if dropped and not always_drop_head:
        shapes = ", ".join(f"{k} {tuple(source[k].shape)}" for k in dropped[:KEYS_SHOWN])
        notes.append(f"weights file {path.name}: dropped the classifier head ({shapes}); the new head "
                     f"for {head_prefix.rstrip('.')} starts from random weights")
    source = {k: v for k, v in source.items() if k not in dropped}
    target = {k: v for k, v in target.items() if not (always_drop_head and k.startswith(head_prefix))}
    missing = sorted(k for k in set(target) - set(source) if not k.startswith(head_prefix))
    unexpected = sorted(set(source) - set(target))
    wrong_shape = sorted(k for k in set(source) & set(target) if source[k].shape != target[k].shape)
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing keys: {_brief(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_brief(unexpected)}")
        if wrong_shape:
            parts.append(f"keys with another shape: {_brief(wrong_shape)}")
        raise ArchError(f"weights file {path} does not fit architecture {arch!r} ("
                        + "; ".join(parts) + "); pass a state dict of the same architecture")
    model.load_state_dict(source, strict=False)
    for note in notes:
        log.info(note)
    return notes
