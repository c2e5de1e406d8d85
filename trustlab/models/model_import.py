"""``trustlab model import``: register a TorchScript or torch.export file as a model version.

The file is checked before anything is stored: its kind (by content), the dataset's class list, and
one forward pass on an image of the dataset at the model's input size that must give K logits. It is
then copied to ``models_dir/<name>/model.ts|.pt2``; its sha256 is stored and checked at every load.
``ModelVersion.arch`` is the kind (``torchscript`` / ``torch.export``); the normalisation, the source
file and a fixed batch size (an export without a dynamic batch dimension) live in
``training_config["imported"]``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import torch

from trustlab.config import Settings
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.datasets import get_dataset
from trustlab.db.queries.items import list_items
from trustlab.db.queries.labels import class_names as dataset_class_names
from trustlab.db.queries.models import add_model_version, find_model_version
from trustlab.db.schema import ModelVersion
from trustlab.models.checkpoint import file_sha256
from trustlab.models.errors import CheckpointError, DataError, DuplicateModelError, ModelError
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD, normalise, read_uint8
from trustlab.models.imported import SUFFIX, ImportedModule, detect_kind, export_input_size, imported_module
from trustlab.models.imported_kinds import KIND_TITLES, TORCH_EXPORT

# Batch size of the import check's second pass (does the program take more than one image?).
PROBE_BATCH = 2
MIN_IMG_SIZE = 16


def _check_classes(given: Sequence[str] | None, dataset: str, known: list[str]) -> list[str]:
    if given is None:
        return known
    given = [c.strip() for c in given if c.strip()]
    if given != known:
        order = " (same classes, another order)" if sorted(given) == sorted(known) else ""
        raise DataError(f"--classes {','.join(given)} does not match the classes of dataset {dataset!r}: "
                        f"{','.join(known)}{order}; the model's outputs must be in the dataset's class "
                        "order (or leave --classes out)")
    return given


def _triple(values: Sequence[float] | None, default: Sequence[float], option: str) -> list[float]:
    values = list(default if values is None else values)
    if len(values) != 3:
        raise ModelError(f"--{option} takes three numbers (one per RGB channel), got {values}")
    if option == "std" and any(v <= 0 for v in values):
        raise ModelError(f"--std values must be positive, got {values}")
    return [float(v) for v in values]


def _probe(module: ImportedModule, x: torch.Tensor, file: Path, k: int) -> int | None:
    """Run the program on one image (must give [1, K] logits) and on a batch; the fixed batch size
    (1) when it only takes one image, else None."""
    size = tuple(x.shape[1:])
    try:
        with torch.no_grad():
            out = module(x[:1])
    except Exception as exc:  # noqa: BLE001 - the program's own error says what it expected
        raise CheckpointError(f"model file {file} does not run on one image of shape [1, 3, {size[1]}, "
                              f"{size[2]}] (pass the --img-size it was made for): {exc}") from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, k):
        shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise CheckpointError(f"model file {file} outputs {shape} for one image, but the dataset has "
                              f"{k} classes: expected logits of shape [1, {k}]")
    try:
        with torch.no_grad():
            batch = module(x[:1].expand(PROBE_BATCH, *size))
        if tuple(batch.shape) == (PROBE_BATCH, k):
            return None
    except Exception:  # noqa: BLE001 - a static batch dimension: run one image at a time
        pass
    return 1


def import_model(
    settings: Settings,
    *,
    name: str,
    dataset: str,
    file: str | Path,
    classes: Sequence[str] | None = None,
    img_size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> ModelVersion:
    """Register ``file`` (TorchScript or torch.export) as model version ``name`` of ``dataset``.

    classes: the model's output classes in order (default: the dataset's; must equal them).
    img_size: the square input size (default: a torch.export program's example input; required for
    TorchScript). mean, std: per-channel normalisation of [0, 1] pixels (default ImageNet's).

    Raises DuplicateModelError, NotFound (dataset), DataError (classes), CheckpointError (file kind,
    corrupt file, wrong output shape) and ModelError (options); nothing is stored on error.
    """
    file = Path(file).expanduser()
    with unit_of_work(settings) as session:
        if find_model_version(session, name=name) is not None:
            raise DuplicateModelError(f"a model called {name!r} exists already: choose another --name")
        ds = get_dataset(session, name=dataset)
        known = dataset_class_names(session, dataset_id=ds.id)
        items = list_items(session, dataset_id=ds.id)
    class_list = _check_classes(classes, dataset, known)
    mean_, std_ = _triple(mean, IMAGENET_MEAN, "mean"), _triple(std, IMAGENET_STD, "std")
    kind = detect_kind(file)
    module = imported_module(file, kind, name=name)
    size = img_size or (export_input_size(file) if kind == TORCH_EXPORT else None)
    if size is None:
        raise ModelError(f"--img-size is needed: {file} is {KIND_TITLES[kind]}, which does not record the "
                         "image size it expects")
    if size < MIN_IMG_SIZE:
        raise ModelError(f"--img-size must be at least {MIN_IMG_SIZE}, got {size}")
    if not items:
        raise DataError(f"dataset {dataset!r} has no items to check the model on; ingest images first")
    x = normalise(read_uint8([settings.images_dir / items[0].path], size), mean_, std_)
    fixed_batch = _probe(module, x, file, len(class_list))
    relative = f"{name}/model{SUFFIX[kind]}"
    target = settings.models_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, target)
    imported = {"kind": kind, "source": str(file.resolve()), "mean": mean_, "std": std_,
                "fixed_batch": fixed_batch}
    version = ModelVersion(
        name=name, dataset_id=ds.id, arch=kind, checkpoint_path=relative,
        checkpoint_sha256=file_sha256(target),
        class_names=class_list, img_size=int(size), labels_source="original",
        training_config={"imported": imported}, history={}, metrics={},
    )
    with unit_of_work(settings) as session:
        return add_model_version(session, model=version)
