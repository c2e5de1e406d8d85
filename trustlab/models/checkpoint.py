"""Checkpoints: save a trained classifier with its metadata, load it back as a ready-to-use model.

A checkpoint file holds ``{"state_dict": ..., "meta": {arch, class_names, img_size, mean, std,
training_config, build_kwargs}}`` (build_kwargs: what ``build_model`` needs to rebuild the module, e.g. a
ViT's img_size). Its sha256 is stored in ``ModelVersion.checkpoint_sha256`` and checked at load.
``ModelVersion.checkpoint_path`` is relative to ``settings.models_dir``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.models import add_model_version, find_model_version, get_model_version
from trustlab.db.schema import Item, ModelVersion
from trustlab.models.arch import (
    build_kwargs,
    build_model,
    cam_target_layer,
    check_arch,
    head_module,
    head_prefix,
)
from trustlab.models.errors import CheckpointError, DuplicateModelError, ModelError
from trustlab.models.external import refuse_external
from trustlab.models.images import normalise, read_uint8, to_uint8_tensor
from trustlab.models.imported import imported_module
from trustlab.models.imported_kinds import is_imported, layers_message

CHECKPOINT_FILENAME = "model.pt"
HASH_CHUNK_BYTES = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The requested device, else CUDA when present, else CPU."""
    if device is not None and str(device) != "auto":
        target = torch.device(device)
        if target.type == "cuda" and not torch.cuda.is_available():
            raise ModelError(f"device {str(device)!r} asked for, but torch sees no CUDA device: "
                             "use --device auto or cpu")
        return target
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def save_checkpoint(path: Path, model: nn.Module, meta: dict[str, Any]) -> str:
    """Write state dict + metadata to ``path``; returns the file's sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "meta": meta}, path)
    return file_sha256(path)


@dataclass
class LoadedModel:
    """A trained classifier ready for inference and explanation (eval mode, on ``device``)."""

    module: nn.Module
    arch: str
    class_names: list[str]
    img_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    device: torch.device
    model_version_id: int
    name: str
    images_dir: Path = field(default=Path("."))

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """PIL images -> normalised float tensor [N, 3, S, S] on the model's device."""
        batch = torch.stack([to_uint8_tensor(image, self.img_size) for image in images])
        return normalise(batch.to(self.device), self.mean, self.std)

    def load_items(self, items: Sequence[Item]) -> torch.Tensor:
        """Items' PNGs (``Item.path`` under images_dir) -> normalised [N, 3, S, S] on the device."""
        batch = read_uint8([self.images_dir / item.path for item in items], self.img_size)
        return normalise(batch.to(self.device), self.mean, self.std)

    @property
    def head(self) -> nn.Linear:
        """The final linear layer; its input is the penultimate feature vector."""
        if is_imported(self.arch):
            raise ModelError(layers_message(self.name, self.arch, "twin"))
        return head_module(self.module, self.arch)

    @property
    def cam_layer(self) -> nn.Module:
        """The last convolutional stage: the usual Grad-CAM target layer."""
        if is_imported(self.arch):
            raise ModelError(layers_message(self.name, self.arch, "gradcam"))
        return cam_target_layer(self.module, self.arch)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features [N, D] (the head's input) for normalised images [N, 3, S, S]."""
        captured: list[torch.Tensor] = []
        hook = self.head.register_forward_hook(lambda _m, inputs, _o: captured.append(inputs[0]))
        try:
            self.module(x.to(self.device))
        finally:
            hook.remove()
        return captured[0].flatten(1)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities [N, C] (softmax over logits; columns in class_names order)."""
        return torch.softmax(self.module(x.to(self.device)).float(), dim=1)


def checkpoint_file(settings: Settings, checkpoint_path: str) -> Path:
    path = Path(checkpoint_path)
    return path if path.is_absolute() else settings.models_dir / path


def load_model(settings: Settings, name: str, *, device: str | None = None) -> LoadedModel:
    """Load the model version called ``name`` (checksum and shape checked) in eval mode.

    Raises NotFound for an unknown name and CheckpointError for a missing or altered file or a
    checkpoint whose architecture or class count does not fit the model version.
    """
    with unit_of_work(settings) as session:
        version = get_model_version(session, name=name)
    refuse_external(version)
    path = checkpoint_file(settings, version.checkpoint_path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint of model {name!r} is missing: {path}")
    actual = file_sha256(path)
    if actual != version.checkpoint_sha256:
        raise CheckpointError(
            f"checkpoint {path} of model {name!r} has sha256 {actual[:12]}…, but the database recorded "
            f"{version.checkpoint_sha256[:12]}…: the file was changed or replaced; retrain the model"
        )
    if is_imported(version.arch):
        return _loaded_import(settings, version, path, device)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise CheckpointError(f"{path} is not a readable torch checkpoint: {exc}") from exc
    state = payload.get("state_dict") if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a trustlab checkpoint (no state_dict entry)")
    meta = payload.get("meta") or {}
    arch = check_arch(version.arch)
    if meta.get("arch", arch) != arch:
        raise CheckpointError(f"checkpoint {path} is a {meta.get('arch')!r} model but model {name!r} "
                              f"is recorded as {arch!r}")
    class_names = list(version.class_names)
    module = build_model(arch, len(class_names), **meta.get("build_kwargs", {}))
    head_key = head_prefix(module, arch) + "weight"
    if head_key in state and state[head_key].shape[0] != len(class_names):
        raise CheckpointError(
            f"checkpoint {path} has {state[head_key].shape[0]} classes but model {name!r} lists "
            f"{len(class_names)} ({', '.join(class_names)}): the class count does not fit"
        )
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # size mismatches: another architecture variant
        raise CheckpointError(f"checkpoint {path} does not fit architecture {arch!r}: {exc}") from exc
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"checkpoint {path} does not fit architecture {arch!r} (missing keys: "
            f"{', '.join(result.missing_keys[:5]) or 'none'}; unexpected keys: "
            f"{', '.join(result.unexpected_keys[:5]) or 'none'})"
        )
    target = pick_device(device)
    module.to(target).eval()
    return LoadedModel(
        module=module, arch=arch, class_names=class_names, img_size=int(version.img_size),
        mean=tuple(meta.get("mean", (0.0, 0.0, 0.0))), std=tuple(meta.get("std", (1.0, 1.0, 1.0))),
        device=target, model_version_id=version.id, name=version.name, images_dir=settings.images_dir,
    )


def _loaded_import(settings: Settings, version: ModelVersion, path: Path, device: str | None) -> LoadedModel:
    """A model imported from a TorchScript or torch.export file (``trustlab model import``)."""
    meta = (version.training_config or {}).get("imported", {})
    target = pick_device(device)
    module = imported_module(path, version.arch, name=version.name,
                             fixed_batch=meta.get("fixed_batch")).to(target)
    return LoadedModel(
        module=module, arch=version.arch, class_names=list(version.class_names),
        img_size=int(version.img_size), mean=tuple(meta["mean"]), std=tuple(meta["std"]), device=target,
        model_version_id=version.id, name=version.name, images_dir=settings.images_dir,
    )


@dataclass(frozen=True)
class ModelSpec:
    """What a checkpoint records about its model: the architecture, the classes in output order, and
    the images it expects (side, normalisation) and was trained on (``labels_source``)."""

    arch: str
    class_names: Sequence[str]
    img_size: int
    mean: Sequence[float]
    std: Sequence[float]
    labels_source: str = "original"


def register_model(
    settings: Settings,
    *,
    name: str,
    dataset_id: int,
    module: nn.Module,
    spec: ModelSpec,
    training_config: dict[str, Any] | None = None,
    history: dict[str, Any] | None = None,
) -> ModelVersion:
    """Save ``module`` under models_dir/<name>/model.pt and record its ModelVersion row."""
    with unit_of_work(settings) as session:
        if find_model_version(session, name=name) is not None:
            raise DuplicateModelError(f"a model called {name!r} exists already: choose another --name")
    training_config = dict(training_config or {})
    meta = {"arch": spec.arch, "class_names": list(spec.class_names), "img_size": int(spec.img_size),
            "mean": [float(v) for v in spec.mean], "std": [float(v) for v in spec.std],
            "labels_source": spec.labels_source, "training_config": training_config,
            "build_kwargs": build_kwargs(module)}
    relative = f"{name}/{CHECKPOINT_FILENAME}"
    sha = save_checkpoint(settings.models_dir / relative, module, meta)
    version = ModelVersion(
        name=name, dataset_id=dataset_id, arch=spec.arch, checkpoint_path=relative, checkpoint_sha256=sha,
        class_names=list(spec.class_names), img_size=int(spec.img_size), labels_source=spec.labels_source,
        training_config=training_config, history=dict(history or {}), metrics={},
    )
    with unit_of_work(settings) as session:
        return add_model_version(session, model=version)
