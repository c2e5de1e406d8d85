"""The catalogue of explanation methods, as data: the one list that study validation, the rater app,
the CLI, tests, benchmarks and docs/explanation-methods.md read.

Torch-free on purpose (it imports nothing from ``trustlab``), so that validating a study or serving
the rater app never loads torch. It lives outside ``trustlab/explain`` because importing any
``trustlab.explain.*`` module first runs that package's ``__init__``, which imports every method
(and so torch) to keep the explainer registry complete.

Each explainer class in ``trustlab/explain`` registers under a catalogue name
(``trustlab.explain.base.register``) and takes its default parameters and display kind from here.
To add a method: an entry here, a registered ``Explainer`` subclass, a row in docs/explanation-methods.md's
"Explanation methods" table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Family = Literal["cam", "gradient", "perturbation", "example"]
# How the rater app draws a method's output: a colour heat map, LIME's signed regions, or a row of
# similar training images. It picks the reading hint, not a name (a blinded study hides the method).
Display = Literal["heatmap", "regions", "examples"]

FAMILIES: tuple[str, ...] = ("cam", "gradient", "perturbation", "example")
DISPLAYS: tuple[str, ...] = ("heatmap", "regions", "examples")


@dataclass(frozen=True)
class MethodSpec:
    """One explanation method.

    name: the name studies, the CLI and the database use (``gradcam``, ``twin``...).
    family: cam (class activation maps of a convolutional layer), gradient (input gradients),
        perturbation (the model on altered copies of the image), example (similar training images).
    display: what the rater sees (see :data:`Display`).
    title: the rater-facing heading shown above the explanation in an unblinded study.
    description: one or two plain sentences for raters and researchers: what the picture shows.
    needs_gradients: the method runs a backward pass (it cannot run under ``torch.no_grad``).
    many_passes: explaining one image costs many forward passes (sampling, integration steps, one
        per channel), so it is timed and batched on fewer images.
    params: the method's parameters and their defaults (read-only); explainers accept these and
        ``optional``.
    optional: parameters without a default, part of the parameters (and so of the stored
        explanation's key) only when given: ``target_layer`` of the CAM family (a dotted module name;
        found automatically otherwise) and ``feature_layer`` of twins (default: the head's input).
    """

    name: str
    family: Family
    display: Display
    title: str
    description: str
    needs_gradients: bool
    many_passes: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    optional: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Read-only, so that no explainer or caller can change a default for everyone.
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


def _cam(
    name: str,
    label: str,
    how: str,
    *,
    needs_gradients: bool = True,
    many_passes: bool = False,
    params: Mapping[str, Any] | None = None,
    optional: tuple[str, ...] = ("target_layer",),
) -> MethodSpec:
    return MethodSpec(
        name=name,
        family="cam",
        display="heatmap",
        title=f"{label}: where the model looked",
        description=f"Warm colours mark the parts of the image the model relied on for its prediction "
        f"({how}).",
        needs_gradients=needs_gradients,
        many_passes=many_passes,
        params=params or {},
        optional=optional,
    )


# Superpixels shared by LIME and KernelSHAP (skimage's slic), so their regions match.
_SLIC = {"n_segments": 50, "compactness": 10.0, "sigma": 1.0}

_ALL: tuple[MethodSpec, ...] = (
    _cam("gradcam", "Grad-CAM", "feature maps of the last convolutional layer weighted by their gradients"),
    _cam("gradcam++", "Grad-CAM++", "like Grad-CAM, with weights that also credit smaller, repeated regions"),
    _cam("hirescam", "HiResCAM", "feature maps multiplied element-wise by their gradients, for sharper maps"),
    _cam(
        "scorecam",
        "Score-CAM",
        "each feature map weighted by how much the image masked by it raises the score",
        needs_gradients=False,
        many_passes=True,
    ),
    _cam("eigencam", "Eigen-CAM", "the main principal component of the feature maps", needs_gradients=False),
    _cam("layercam", "LayerCAM", "feature maps weighted position by position by their positive gradients"),
    _cam(
        "cam", "CAM", "feature maps weighted by the classifier's weights for the class", needs_gradients=False
    ),
    _cam(
        "ablationcam",
        "Ablation-CAM",
        "each feature map weighted by how much the score drops when that map is switched off",
        needs_gradients=False,
        many_passes=True,
    ),
    _cam("xgradcam", "XGrad-CAM", "feature maps weighted by their gradients, scaled by their activations"),
    _cam(
        "fullgrad",
        "FullGrad",
        "gradients of the image and of every layer's bias, added up",
        optional=(),
    ),
    _cam("eigengradcam", "Eigen-Grad-CAM", "the main principal component of feature maps times gradients"),
    _cam(
        "shapleycam",
        "Shapley-CAM",
        "feature maps weighted by gradients corrected with second-order terms (Shapley values)",
    ),
    _cam(
        "finercam",
        "Finer-CAM",
        "like Grad-CAM, on the difference from the most similar other classes, so that the details "
        "telling them apart stand out",
        params={"alpha": 1.0, "comparisons": 3},
    ),
    _cam(
        "kpcacam",
        "KPCA-CAM",
        "the main kernel principal component of the feature maps",
        needs_gradients=False,
        params={"kernel": "sigmoid"},
    ),
    MethodSpec(
        name="lime",
        family="perturbation",
        display="regions",
        title="LIME: regions that pushed the prediction",
        description="The image is cut into regions and the model is shown copies with some regions "
        "hidden; blue regions pushed the model towards its prediction, orange ones against it.",
        needs_gradients=False,
        many_passes=True,
        params={
            "num_samples": 1000,
            "segmentation": "slic",
            **_SLIC,
            "kernel_size": 4,
            "max_dist": 200,
            "ratio": 0.2,
            "hide_color": "mean",
            "top_labels": 1,
            "num_features": 5,
            # lime_image's default: kernel width on cosine distance.
            "kernel_width": 0.25,
            "seed": 0,
        },
    ),
    MethodSpec(
        name="twin",
        family="example",
        display="examples",
        title="Similar training images of the predicted class",
        description="Training images of the predicted class that the model finds most like this one; "
        "under each, how alike the model finds them (similarity 1.00 = identical).",
        needs_gradients=False,
        params={"k": 5},
        optional=("feature_layer",),
    ),
    MethodSpec(
        name="counterfactual_twin",
        family="example",
        display="examples",
        title="Similar training images of another class",
        description="Training images of the next most likely class that the model finds most like "
        "this one: what this image would look like as that class (similarity 1.00 = identical).",
        needs_gradients=False,
        params={"k": 5},
        optional=("feature_layer",),
    ),
    MethodSpec(
        name="integrated_gradients",
        family="gradient",
        display="heatmap",
        title="Integrated gradients: pixels that mattered",
        description="Warm colours mark the pixels that moved the model's score most on the way from a "
        "blank image to this one.",
        needs_gradients=True,
        many_passes=True,
        params={"n_steps": 32, "baseline": 0.0},
    ),
    MethodSpec(
        name="occlusion",
        family="perturbation",
        display="heatmap",
        title="Occlusion: regions that mattered",
        description="A square patch slides over the image, hiding what is under it; warm colours mark "
        "where hiding the image cost the prediction the most probability.",
        needs_gradients=False,
        many_passes=True,
        # window, stride 0: chosen from the image side (an eighth and a sixteenth of it).
        params={"window": 0, "stride": 0, "baseline": 0.0},
    ),
    MethodSpec(
        name="kernel_shap",
        family="perturbation",
        display="heatmap",
        title="KernelSHAP: regions that mattered",
        description="The image is cut into regions and the model is shown copies with some regions "
        "hidden; warm colours mark the regions with the largest share of the prediction.",
        needs_gradients=False,
        many_passes=True,
        params={"n_samples": 200, **_SLIC, "baseline": 0.0, "seed": 0},
    ),
    MethodSpec(
        name="guided_backprop",
        family="gradient",
        display="heatmap",
        title="Guided backprop: pixels that mattered",
        description="Bright colours mark the pixels whose change would most raise the model's score for "
        "its prediction.",
        needs_gradients=True,
    ),
)

#: Every method by name, in catalogue order.
METHODS: Mapping[str, MethodSpec] = MappingProxyType({spec.name: spec for spec in _ALL})
#: The names, in catalogue order (what a study condition or ``--methods`` may name).
METHOD_NAMES: tuple[str, ...] = tuple(METHODS)


def method_spec(name: str) -> MethodSpec:
    """The catalogue entry of ``name``; ``KeyError`` naming the known methods when there is none."""
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(METHOD_NAMES)
        raise KeyError(f"unknown explanation method {name!r}; known methods: {known}") from None


def names_where(**fields: Any) -> tuple[str, ...]:
    """Names of the methods whose fields equal ``fields``, e.g. ``names_where(display="heatmap")``."""
    return tuple(s.name for s in _ALL if all(getattr(s, key) == value for key, value in fields.items()))
