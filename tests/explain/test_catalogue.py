"""The method catalogue and the explainer registry name the same methods, the classes take their
defaults from it, its gradient flags are true of the code, and every method is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from trustlab.explain.base import EXPLAINERS, Explainer, ExplainError, get_explainer, register
from trustlab.explanation_methods import DISPLAYS, FAMILIES, METHOD_NAMES, METHODS, method_spec, names_where
from trustlab.models.arch import build_model

README = Path(__file__).resolve().parents[2] / "docs" / "explanation-methods.md"


def test_every_catalogue_method_has_an_explainer_and_every_explainer_is_catalogued():
    assert sorted(set(METHODS) - set(EXPLAINERS)) == [], "catalogue entries without an explainer class"
    assert sorted(set(EXPLAINERS) - set(METHODS)) == [], "explainers missing from the catalogue"
    for name, cls in EXPLAINERS.items():
        assert cls.spec is METHODS[name]
        assert dict(cls.default_params) == dict(METHODS[name].params)
        assert cls.kind == ("examples" if METHODS[name].display == "examples" else "map")


def test_register_refuses_a_method_outside_the_catalogue():
    class Nameless(Explainer):
        """Not in the catalogue."""

        name = "not_a_method"

    with pytest.raises(ValueError, match="not in the method catalogue"):
        register(Nameless)
    assert "not_a_method" not in EXPLAINERS
    with pytest.raises(ValueError, match="already registered"):
        register(type("Again", (Explainer,), {"name": "gradcam", "__doc__": "dup"}))


def test_entries_are_well_formed_and_read_only():
    assert METHOD_NAMES == tuple(METHODS) and len(set(METHOD_NAMES)) == len(METHOD_NAMES)
    for spec in METHODS.values():
        assert spec.family in FAMILIES and spec.display in DISPLAYS
        assert spec.title and spec.description.endswith(".")
    with pytest.raises(TypeError):
        METHODS["lime"].params["num_samples"] = 1  # type: ignore[index]
    with pytest.raises(KeyError, match="known methods: gradcam"):
        method_spec("grad-cam")
    with pytest.raises(ExplainError, match="known methods: gradcam"):
        get_explainer("grad-cam")
    assert names_where(display="examples") == ("twin", "counterfactual_twin")


def test_cam_gradient_flags_match_pytorch_grad_cam():
    model = build_model("simple_cnn", 2).eval()
    for name in names_where(family="cam"):
        with get_explainer(name)(model) as explainer:
            assert explainer._cam.uses_gradients == METHODS[name].needs_gradients, name


# Small settings: these run on 2 shared CPU cores.
FAST = {
    "lime": {"num_samples": 20},
    "kernel_shap": {"n_samples": 20},
    "occlusion": {"window": 8, "stride": 8},
}


@pytest.mark.parametrize(
    "method", [n for n in names_where(needs_gradients=False) if METHODS[n].family != "example"]
)
def test_methods_without_gradients_run_under_no_grad(method):
    """A method the catalogue says needs no backward pass works with autograd switched off."""
    torch.manual_seed(0)
    model = build_model("simple_cnn", 2).eval()
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), get_explainer(method)(model, **FAST.get(method, {})) as explainer:
        result = explainer.explain(x, targets=[0])
    assert result.maps.shape == (1, 32, 32)


def _readme_method_rows() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Explanation methods\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \|(.*)$", section, flags=re.M)
    return {name: rest for name, rest in rows}


def test_every_catalogue_method_is_documented_in_the_readme():
    rows = _readme_method_rows()
    assert list(rows) == list(METHOD_NAMES), "README's methods table must list the catalogue, in order"
    for name, row in rows.items():
        spec = METHODS[name]
        assert spec.family in row, f"README row of {name} does not give its family {spec.family}"
        for param, default in spec.params.items():
            assert f"`{param}={default}`" in row, f"README row of {name} lacks `{param}={default}`"
