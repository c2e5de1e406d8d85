"""Models imported from a file (``trustlab model import``): their kinds, and the explanation methods
they cannot run. Torch-free, so that study validation can ask without loading torch.

An imported model is a TorchScript or ``torch.export`` program: it maps images to logits, and
gradients flow through it, but its layers cannot be hooked (TorchScript refuses forward hooks, and an
exported program is a flat graph whose layers are not modules), so the methods that read a layer's
activations (the CAM family, guided backpropagation's ReLU hooks, twins' penultimate embedding) do not
apply. Integrated Gradients, LIME, KernelSHAP, Occlusion and the faithfulness metrics do.
"""

from __future__ import annotations

from collections.abc import Iterable

from trustlab.explanation_methods import METHODS

TORCHSCRIPT = "torchscript"
TORCH_EXPORT = "torch.export"
# ModelVersion.arch of an imported model is its kind.
IMPORTED_KINDS: tuple[str, ...] = (TORCHSCRIPT, TORCH_EXPORT)
KIND_TITLES = {TORCHSCRIPT: "TorchScript", TORCH_EXPORT: "a torch.export program"}
# Families that need a named layer of an nn.Module, and single methods that hook modules.
LAYER_FAMILIES = ("cam", "example")
LAYER_METHODS = ("guided_backprop",)


def is_imported(arch: str) -> bool:
    return arch in IMPORTED_KINDS


def runnable_methods(arch: str) -> tuple[str, ...]:
    """The catalogue's methods a model of ``arch`` can run (all of them for a trained model)."""
    return tuple(name for name in METHODS if not _needs_layers(arch, name))


def _needs_layers(arch: str, method: str) -> bool:
    spec = METHODS.get(method)
    return (is_imported(arch) and spec is not None
            and (spec.family in LAYER_FAMILIES or method in LAYER_METHODS))


def layers_message(model: str, arch: str, method: str | None = None) -> str:
    """Why a method that hooks layers cannot run on imported model ``model``, and what to use."""
    what = {"cam": "CAM needs", "example": "Twins need the penultimate embedding of"}.get(
        METHODS[method].family if method in METHODS else "", f"{method or 'This method'} needs"
    )
    return (f"{what} an nn.Module with named layers; model {model!r} was imported as "
            f"{KIND_TITLES.get(arch, arch)}, whose layers cannot be hooked. Methods it can run: "
            f"{', '.join(runnable_methods(arch))}")


def methods_it_cannot_run(arch: str, methods: Iterable[str]) -> list[str]:
    """The given methods that a model of ``arch`` cannot run, in the given order."""
    return [m for m in dict.fromkeys(methods) if _needs_layers(arch, m)]
