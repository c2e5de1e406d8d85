"""`trustlab model import`: TorchScript and torch.export files made elsewhere, registered and then used by
evaluate, predict, explain and a study rated through the REST API, like a trained model."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient
from torch import nn
from typer.testing import CliRunner

from tests.helpers.builders import make_image_dataset
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.db.engine import unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.db.queries.models import get_model_version
from trustlab.db.queries.predictions import predictions_for_items
from trustlab.db.schema import Explanation
from trustlab.explain.precompute import ExplainOptions, explain_split
from trustlab.explain.sanity import sanity_check
from trustlab.explain.store import load_array
from trustlab.models.catalog import list_models
from trustlab.models.checkpoint import load_model
from trustlab.models.errors import CheckpointError, ModelError
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD, normalise, read_uint8
from trustlab.platform.app import create_app
from trustlab.studies.design.create import StudyError, create_study, open_study

SIZE = 32
CLASSES = ("square", "disc")
FAST = json.dumps({"lime": {"num_samples": 40}, "integrated_gradients": {"n_steps": 8},
                   "kernel_shap": {"n_samples": 40}})
# Methods that need only the model's output and its input gradients: all of them run on an import.
IMPORTABLE = ("integrated_gradients", "occlusion", "lime", "kernel_shap")


def said(result, *texts: str) -> bool:
    """Every text is in the command's output (rich wraps long lines, so whitespace is ignored)."""
    output = "".join(result.output.split())
    return all("".join(text.split()) in output for text in texts)


def small_cnn(k: int = 2, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, k),
    ).eval()


def save_torchscript(module: nn.Module, path) -> None:
    torch.jit.save(torch.jit.script(module), str(path))


def save_export(module: nn.Module, path, *, dynamic_batch: bool = True) -> None:
    x = torch.zeros(2, 3, SIZE, SIZE)
    shapes = ({0: torch.export.Dim("batch", min=1)},) if dynamic_batch else None
    torch.export.save(torch.export.export(module, (x,), dynamic_shapes=shapes), str(path))


def study_config(name: str, conditions: list[str]) -> dict:
    return {"name": name, "dataset": "shapes", "model": "cnn",
            "items": {"split": "test", "n": 4, "model_errors": None}, "conditions": conditions,
            "design": "within", "raters_per_item": 2, "items_per_rater": 4,
            "tasks": ["verify", "true_label", "trust"], "likert_points": 5, "show_prediction": True,
            "blind_condition": True, "gold": {"n": 0, "max_failures": 1}, "seed": 0}


SAVERS = {"torchscript": (save_torchscript, "m.ts"), "torch.export": (save_export, "m.pt2")}


@pytest.fixture
def cli(sqlite_settings, monkeypatch, one_torch_thread):
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    _load_verbs()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def shapes(sqlite_settings):
    return make_image_dataset(sqlite_settings, size=SIZE, per_class={"train": 4, "val": 2, "test": 4})


def reference_probs(settings, module: nn.Module, items) -> np.ndarray:
    pixels = read_uint8([settings.images_dir / i.path for i in items], SIZE)
    x = normalise(pixels, IMAGENET_MEAN, IMAGENET_STD)
    with torch.no_grad():
        return torch.softmax(module(x), dim=1).numpy()


@pytest.mark.parametrize("kind", ["torchscript", "torch.export"])
def test_imported_model_evaluates_predicts_and_explains_like_the_original(cli, sqlite_settings, shapes,
                                                                         tmp_path, kind):
    original = small_cnn()
    save, filename = SAVERS[kind]
    save(original, tmp_path / filename)
    result = cli("model", "import", "--name", "ext", "--dataset", "shapes", "--file", tmp_path / filename,
                 "--img-size", SIZE, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["arch"] == kind and summary["classes"] == list(CLASSES) and summary["img_size"] == SIZE
    stored = sqlite_settings.models_dir / summary["checkpoint_path"]
    assert stored.read_bytes() == (tmp_path / filename).read_bytes()

    result = cli("evaluate", "--model", "ext")
    assert result.exit_code == 0, result.output
    result = cli("models")
    assert result.exit_code == 0 and said(result, "│ ext")
    assert [(m.name, m.arch) for m in list_models(sqlite_settings)] == [("ext", kind)]
    evaluated = pd.read_csv(sqlite_settings.models_dir / "ext" / "eval_test" / "predictions.csv")
    assert cli("predict", "--model", "ext", "--split", "test").exit_code == 0
    with unit_of_work(sqlite_settings) as s:
        items = list_items(s, dataset_id=shapes, split="test")
        mv = get_model_version(s, name="ext")
        preds = predictions_for_items(s, model_version_id=mv.id, item_ids=[i.id for i in items])
        expected = reference_probs(sqlite_settings, original, items)
        stored_probs = np.array([preds[i.id].probabilities for i in items])
        stored_labels = [preds[i.id].predicted_label for i in items]
    np.testing.assert_allclose(stored_probs, expected, atol=1e-5)
    assert stored_labels == [CLASSES[j] for j in expected.argmax(1)]
    by_item = dict(zip(evaluated["item_id"], evaluated["predicted_label"], strict=True))
    assert [by_item[i.id] for i in items] == stored_labels

    result = cli("explain", "--model", "ext", "--methods", ",".join(IMPORTABLE), "--params", FAST)
    assert result.exit_code == 0, result.output
    with unit_of_work(sqlite_settings) as s:
        rows = s.query(Explanation).all()
        assert sorted(r.method for r in rows) == sorted(IMPORTABLE * len(items))
        for row in rows:
            assert row.overlay_path and row.faithfulness.get("deletion_auc") is not None, row.method
            heatmap = load_array(sqlite_settings, row.raw_path)
            assert heatmap.shape == (SIZE, SIZE) and np.ptp(heatmap) > 0, row.method

    result = cli("explain", "--model", "ext", "--methods", "gradcam")
    assert result.exit_code == 1
    assert said(result, "CAM needs an nn.Module with named layers; model 'ext' was imported as")
    assert said(result, "integrated_gradients")  # names what it can run instead
    result = cli("explain", "--model", "ext", "--methods", "twin")
    assert result.exit_code == 1 and said(result, "Twins need the penultimate embedding")
    result = cli("predict", "--model", "ext", "--cross-val", 2)
    assert result.exit_code == 1 and said(result, "model 'ext' was imported (" + kind + ")")


def test_gradients_flow_through_both_kinds(sqlite_settings, shapes, tmp_path, cli):
    original = small_cnn()
    x = torch.randn(3, 3, SIZE, SIZE, requires_grad=True)
    original(x)[:, 1].sum().backward()
    for kind, (save, filename) in SAVERS.items():
        save(original, tmp_path / filename)
        name = kind.replace(".", "_")
        assert cli("model", "import", "--name", name, "--dataset", "shapes", "--file", tmp_path / filename,
                   "--img-size", SIZE).exit_code == 0
        loaded = load_model(sqlite_settings, name, device="cpu")
        y = x.detach().clone().requires_grad_(True)
        loaded.module(y)[:, 1].sum().backward()
        torch.testing.assert_close(y.grad, x.grad, atol=1e-5, rtol=1e-4)
        # The randomisation sanity check runs gradient methods and refuses CAM by name.
        frame = sanity_check(sqlite_settings, model=name, methods=["integrated_gradients"], n_items=2,
                             options=ExplainOptions(params={"integrated_gradients": {"n_steps": 4}}))
        assert frame["spearman"].notna().all()
        with pytest.raises(ModelError, match=f"CAM needs an nn.Module with named layers; model '{name}'"):
            sanity_check(sqlite_settings, model=name, methods=["gradcam"], n_items=2)


def test_export_with_a_static_batch_runs_batches_one_image_at_a_time(cli, sqlite_settings, shapes, tmp_path):
    original = small_cnn(seed=1)
    program = torch.export.export(original, (torch.zeros(1, 3, SIZE, SIZE),))  # batch size fixed at 1
    torch.export.save(program, str(tmp_path / "s.pt2"))
    # No --img-size: the export's example input says 32.
    result = cli("model", "import", "--name", "static", "--dataset", "shapes", "--file", tmp_path / "s.pt2",
                 "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["img_size"] == SIZE
    loaded = load_model(sqlite_settings, "static", device="cpu")
    assert loaded.module.fixed_batch == 1
    with unit_of_work(sqlite_settings) as s:
        items = list_items(s, dataset_id=shapes, split="test")
    x = loaded.load_items(items[:5])  # 5 images through a batch-1 program
    np.testing.assert_allclose(loaded.predict_proba(x).numpy(), reference_probs(sqlite_settings, original,
                                                                                 items[:5]), atol=1e-5)


def test_imported_model_in_a_study_rated_through_the_api(cli, sqlite_settings, shapes, tmp_path):
    save_export(small_cnn(seed=2), tmp_path / "m.pt2")
    assert cli("model", "import", "--name", "cnn", "--dataset", "shapes", "--file", tmp_path / "m.pt2",
               "--img-size", SIZE).exit_code == 0
    explain_split(sqlite_settings, model="cnn", methods=["lime"], split="test",
                  options=ExplainOptions(params={"lime": {"num_samples": 40}}))
    with pytest.raises(StudyError, match=r"model 'cnn' cannot run gradcam: CAM needs an nn.Module"):
        create_study(sqlite_settings, study_config("cam", ["none", "gradcam"]))
    create_study(sqlite_settings, study_config("made", ["none", "lime"]))
    open_study(sqlite_settings, "made")
    from trustlab.platform.accounts.invites import create_invites

    invites = [link.token for link in create_invites(sqlite_settings, study="made", n=2)]
    shown = []
    with TestClient(create_app(sqlite_settings, ui=False)) as client:
        for invite in invites:
            token = client.post("/api/v1/invites/accept", json={"invite": invite}).json()["token"]
            h = {"Authorization": f"Bearer {token}"}
            seen = 0
            while (r := client.get("/api/v1/studies/made/next", headers=h)).status_code == 200:
                payload = r.json()
                for entry in payload["explanations"]:
                    assert entry["status"] == "ready", entry
                    assert client.get(entry["image_url"], headers=h).status_code == 200
                    shown.append(entry)
                answer = client.post("/api/v1/judgements", headers=h, json={
                    "assignment_id": payload["assignment_id"], "idempotency_key": f"{token[:8]}-{seen}",
                    "answers": {"model_correct": True, "true_label": "square", "trust": 3}})
                assert answer.status_code in (200, 201), answer.text
                seen += 1
                assert seen <= 10
            assert r.status_code == 204 and seen == 4
    assert len(shown) == 4  # the lime half of 2 raters x 4 items, within subjects


def test_bad_inputs_get_clear_errors(cli, sqlite_settings, shapes, tmp_path):
    save_torchscript(small_cnn(), tmp_path / "m.ts")
    base = ["model", "import", "--dataset", "shapes", "--img-size", SIZE]
    result = cli(*base, "--name", "a", "--file", tmp_path / "m.ts", "--classes", "disc,square")
    assert result.exit_code == 1
    assert said(result, "--classes disc,square does not match") and said(result, "square,disc")
    result = cli(*base, "--name", "a", "--file", tmp_path / "m.ts", "--classes", "cat,dog")
    assert result.exit_code == 1 and said(result, "cat,dog") and said(result, "square,disc")

    save_torchscript(small_cnn(k=3), tmp_path / "three.ts")
    result = cli(*base, "--name", "a", "--file", tmp_path / "three.ts")
    assert result.exit_code == 1 and said(result, "outputs [1, 3]") and said(result, "[1, 2]")

    corrupt = tmp_path / "corrupt.ts"
    corrupt.write_bytes((tmp_path / "m.ts").read_bytes()[:2000])
    result = cli(*base, "--name", "a", "--file", corrupt)
    assert result.exit_code == 1 and said(result, "corrupt.ts")
    with zipfile.ZipFile(tmp_path / "m.ts") as good, zipfile.ZipFile(tmp_path / "broken.ts", "w") as bad:
        for member in good.namelist():
            if not member.endswith("/data.pkl"):  # a whole archive whose module record is gone
                bad.writestr(member, good.read(member))
    result = cli(*base, "--name", "a", "--file", tmp_path / "broken.ts")
    assert result.exit_code == 1 and said(result, "broken.ts could not be read as TorchScript")
    (tmp_path / "text.pt2").write_text("not a model")
    result = cli(*base, "--name", "a", "--file", tmp_path / "text.pt2")
    assert result.exit_code == 1 and said(result, "text.pt2 is not a TorchScript or torch.export archive")
    torch.save(small_cnn().state_dict(), tmp_path / "state.pt")
    result = cli(*base, "--name", "a", "--file", tmp_path / "state.pt")
    assert result.exit_code == 1 and said(result, "state.pt is a plain torch.save file")
    result = cli("model", "import", "--name", "a", "--dataset", "shapes", "--file", tmp_path / "m.ts")
    assert result.exit_code == 1 and said(result, "--img-size is needed")
    result = cli(*base, "--name", "a", "--file", tmp_path / "m.ts", "--mean", "0.5,0.5")
    assert result.exit_code == 1 and said(result, "--mean takes three numbers")
    result = cli(*base, "--name", "a", "--file", tmp_path / "m.ts", "--dataset", "ghost")
    assert result.exit_code == 1 and said(result, "ghost")
    assert not (sqlite_settings.models_dir / "a").exists()  # nothing stored on error

    assert cli(*base, "--name", "a", "--file", tmp_path / "m.ts").exit_code == 0
    result = cli(*base, "--name", "a", "--file", tmp_path / "m.ts")
    assert result.exit_code == 1 and said(result, "a model called 'a' exists already")

    # The stored copy is checked at load: an altered file is refused.
    stored = sqlite_settings.models_dir / "a" / "model.ts"
    stored.write_bytes((tmp_path / "three.ts").read_bytes())
    with pytest.raises(CheckpointError, match="was changed or replaced"):
        load_model(sqlite_settings, "a")
