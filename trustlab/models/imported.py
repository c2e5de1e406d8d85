"""Reading a model trained elsewhere: a TorchScript file (``torch.jit.save``) or a ``torch.export``
program (``torch.export.save``), told apart by content, and wrapped as an ordinary nn.Module.

Both formats are zip archives under one top folder: TorchScript holds ``code/`` (the scripted source)
and ``constants.pkl``; a torch.export archive holds ``archive_format`` and ``models/*.json``; a plain
``torch.save`` file (a state dict, a pickled module) holds ``data.pkl`` without code and is refused.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from trustlab.models.errors import CheckpointError, ModelError
from trustlab.models.imported_kinds import KIND_TITLES, TORCH_EXPORT, TORCHSCRIPT, layers_message

# The file suffix a copied model gets under models_dir/<name>/.
SUFFIX = {TORCHSCRIPT: ".ts", TORCH_EXPORT: ".pt2"}


def _entries_below_root(path: Path) -> set[str]:
    """The archive's member names without their top folder ("m/code/x.py" -> "code/x.py")."""
    with zipfile.ZipFile(path) as archive:
        return {name.split("/", 1)[1] for name in archive.namelist() if "/" in name}


def detect_kind(path: Path) -> str:
    """``"torchscript"`` or ``"torch.export"`` from the file's content (its suffix is ignored).

    Raises CheckpointError naming the file when it is missing, not a zip archive, corrupt, or another
    kind of torch file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file {path} does not exist")
    try:
        entries = _entries_below_root(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"model file {path} is not a TorchScript or torch.export archive "
                              f"(not a readable zip file: {exc}); save it with torch.jit.save or "
                              "torch.export.save") from None
    if "archive_format" in entries or any(e.startswith("models/") and e.endswith(".json") for e in entries):
        return TORCH_EXPORT
    if "constants.pkl" in entries or any(e.startswith("code/") for e in entries):
        return TORCHSCRIPT
    if "data.pkl" in entries:
        raise CheckpointError(f"model file {path} is a plain torch.save file (a state dict or pickled "
                              "object), not TorchScript or torch.export: save the model with "
                              "torch.jit.save(torch.jit.script(model)) or torch.export.save, or train "
                              "with `trustlab train --weights`")
    raise CheckpointError(f"model file {path} is a zip archive without a TorchScript or torch.export "
                          "layout")


class ImportedModule(nn.Module):
    """An imported program as an nn.Module: images [N, 3, S, S] -> logits [N, K].

    ``train``/``eval`` only set the flag (an exported program refuses them, and an imported program
    runs as it was saved). fixed_batch: the one batch size the program accepts (an export without a
    dynamic batch dimension); larger batches run in chunks of that size, the last one padded.
    name: the model version's name, for error messages.
    """

    def __init__(
        self, program: nn.Module, kind: str, *, name: str = "", fixed_batch: int | None = None
    ) -> None:
        super().__init__()
        self.program = program
        self.kind = kind
        self.model_name = name
        self.fixed_batch = fixed_batch

    @property
    def target_layer(self) -> nn.Module:
        """Where a CAM method looks first for its layer (``explain.layers.default_target_layer``): an
        imported program has none, and saying so beats a hook error from inside TorchScript."""
        raise ModelError(layers_message(self.model_name or "?", self.kind, "gradcam"))

    def train(self, mode: bool = True) -> ImportedModule:
        self.training = mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fixed_batch or len(x) == self.fixed_batch:
            return self.program(x)
        outputs = []
        for start in range(0, len(x), self.fixed_batch):
            chunk = x[start : start + self.fixed_batch]
            pad = self.fixed_batch - len(chunk)
            if pad:
                chunk = torch.cat([chunk, chunk[-1:].expand(pad, *chunk.shape[1:])])
            outputs.append(self.program(chunk)[: self.fixed_batch - pad])
        return torch.cat(outputs)


def read_program(path: Path, kind: str) -> nn.Module:
    """Load the file as ``kind`` on the CPU; CheckpointError naming the file when it cannot."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still supported
            if kind == TORCHSCRIPT:
                return torch.jit.load(str(path), map_location="cpu")
            if kind == TORCH_EXPORT:
                return torch.export.load(str(path)).module()
    except Exception as exc:  # noqa: BLE001 - a truncated or altered archive fails in many ways
        raise CheckpointError(f"model file {path} could not be read as {KIND_TITLES[kind]} "
                              f"(corrupt or saved by an incompatible torch): {exc}") from exc
    raise CheckpointError(f"unknown imported model kind {kind!r} for {path}")


def export_input_size(path: Path) -> int | None:
    """The square image size of a torch.export program's example input, when it recorded one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            inputs = torch.export.load(str(path)).example_inputs
        except Exception:  # noqa: BLE001 - no example inputs: the caller asks for --img-size
            return None
    args = inputs[0] if inputs else ()
    first = args[0] if args else None
    if isinstance(first, torch.Tensor) and first.ndim == 4 and first.shape[2] == first.shape[3]:
        return int(first.shape[2])
    return None


def imported_module(
    path: Path, kind: str, *, name: str = "", fixed_batch: int | None = None
) -> ImportedModule:
    """The file at ``path`` read as ``kind`` and wrapped (CPU, eval); ``name`` names it in errors."""
    return ImportedModule(read_program(path, kind), kind, name=name, fixed_batch=fixed_batch).eval()
