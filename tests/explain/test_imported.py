"""Explanations made elsewhere (`trustlab explanations import`): heatmaps of a model trustlab cannot
run, an imported method served and rated as a study condition through the REST API, errors that name
the files at fault, and faithfulness scores when the model can be run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.helpers.builders import make_image_dataset
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.db.schema import Explanation, ImportedMethod, Item, Judgement
from trustlab.explain.faithfulness import faithfulness_scores
from trustlab.explain.imported import import_explanations
from trustlab.explain.record import resize_map
from trustlab.explain.store import artifact_path, load_array
from trustlab.models.arch import build_model
from trustlab.models.checkpoint import ModelSpec, load_model, register_model
from trustlab.models.external import ImportProblem, import_predictions
from trustlab.models.images import IMAGENET_MEAN, IMAGENET_STD
from trustlab.platform.accounts.invites import create_invites
from trustlab.platform.app import create_app
from trustlab.platform.content.worker import ExplanationWorker
from trustlab.studies.config.study import StudyConfigError, load_study_config
from trustlab.studies.design.create import StudyError, create_study, open_study

CLASSES = ("square", "disc")
SIZE = 32
METHOD = "lab_smoothgrad"
TITLE = "SmoothGrad from our lab: where the model looked"
META = {
    "title": TITLE,
    "description": "Averaged gradients of noisy copies of the image.",
    "params": {"n_samples": 50, "sigma": 0.15},
}


def peak_map(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cy, cx = rng.uniform(0.3, 0.7, size=2) * (height, width)
    yy, xx = np.mgrid[0:height, 0:width]
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (height / 5) ** 2)).astype(np.float32)


def write_maps(folder: Path, items: list[Item], *, meta: dict | None = META) -> Path:
    """One map per item: .npy by id, a grayscale PNG by ingested file name, one of another size."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, item in enumerate(items):
        if k == 1:  # a grayscale PNG named after the ingested file
            png = (peak_map(SIZE, SIZE, k) * 255).astype(np.uint8)
            Image.fromarray(png, mode="L").save(folder / f"{Path(item.source_path).stem}.png")
        elif k == 2:  # another size: resized, with a note
            np.save(folder / f"{item.id}.npy", peak_map(16, 16, k))
        else:
            np.save(folder / f"{item.id}.npy", peak_map(SIZE, SIZE, k))
    if meta is not None:
        (folder / "method.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def dataset_items(settings) -> tuple[list[Item], list[Item]]:
    dataset_id = make_image_dataset(settings, classes=CLASSES, per_class={"train": 1, "test": 4}, size=SIZE)
    with read_session(settings) as s:
        return (
            list_items(s, dataset_id=dataset_id, split="test"),
            list_items(s, dataset_id=dataset_id, split="train"),
        )


@pytest.fixture
def external(settings, tmp_path):
    """A dataset and the imported predictions of model `ext` (trustlab cannot run it) for its test items."""
    test_items, train_items = dataset_items(settings)
    lines = ["item,square,disc"]
    for k, item in enumerate(test_items):
        right = k % 4 != 0  # a quarter of the predictions are wrong
        p_square = 0.85 if (item.current_label == "square") == right else 0.15
        lines.append(f"{item.id},{p_square},{1 - p_square:.2f}")
    csv = tmp_path / "preds.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_predictions(settings, csv, model="ext", dataset="shapes")
    return test_items, train_items


def stored(settings) -> tuple[int, int]:
    with read_session(settings) as s:
        return s.scalar(select(func.count(ImportedMethod.id))), s.scalar(select(func.count(Explanation.id)))


def test_heatmaps_of_a_model_trustlab_cannot_run(settings, external, tmp_path):
    test_items, _ = external
    result = import_explanations(
        settings, write_maps(tmp_path / "maps", test_items), model="ext", method=METHOD
    )
    assert (result.imported, result.unchanged, result.faithfulness, result.title) == (8, 0, False, TITLE)
    assert any("resized 1 heatmaps" in note and "16x16 -> 32x32" in note for note in result.notes)
    assert any("is external (imported predictions) and cannot be run" in note for note in result.notes)
    with read_session(settings) as s:
        method = s.scalars(select(ImportedMethod)).one()
        assert (method.name, method.title, method.params) == (METHOD, TITLE, META["params"])
        rows = list(s.scalars(select(Explanation).where(Explanation.method == METHOD)))
    assert len(rows) == 8
    for row in rows:
        heatmap = load_array(settings, row.raw_path)
        assert heatmap.shape == (SIZE, SIZE) and heatmap.dtype == np.float32 and heatmap.max() > heatmap.min()
        assert artifact_path(settings, row.overlay_path).read_bytes()[:4] == b"\x89PNG"
        assert row.faithfulness == {} and row.params == META["params"]
    # The same folder again stores nothing new.
    again = import_explanations(settings, tmp_path / "maps", model="ext", method=METHOD)
    assert (again.imported, again.unchanged) == (0, 8) and stored(settings) == (1, 8)


def test_cli_json(settings, external, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(settings.home))
    monkeypatch.setenv("TRUSTLAB_DB_URL", settings.database_url)
    _load_verbs()
    folder = write_maps(tmp_path / "maps", external[0])
    out = CliRunner().invoke(
        app, ["explanations", "import", str(folder), "--model", "ext", "--method", METHOD, "--json"]
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["imported"] == 8
    bad = CliRunner().invoke(app, ["explanations", "import", str(folder), "--model", "nope", "--method", "x"])
    assert bad.exit_code == 1 and "model 'nope' does not exist" in " ".join(bad.output.split())


def failing_explainer(settings, *, model, item_ids, methods):
    raise RuntimeError("the study's explanations are all imported: nothing is computed")


def test_imported_method_is_a_study_condition_served_and_rated_through_the_api(settings, external, tmp_path):
    test_items, _ = external
    import_explanations(settings, write_maps(tmp_path / "maps", test_items), model="ext", method=METHOD)
    config = {
        "name": "imported",
        "dataset": "shapes",
        "model": "ext",
        "items": {"split": "test", "n": 8, "model_errors": None},
        "conditions": ["none", METHOD],
        "design": "within",
        "raters_per_item": 2,
        "items_per_rater": 8,
        "tasks": ["verify", "trust"],
        "likert_points": 5,
        "blind_condition": False,
        "seed": 0,
    }
    with pytest.raises(StudyConfigError, match=f"unknown method '{METHOD}'"):
        load_study_config(config)  # without the database, only the catalogue's methods are known
    create_study(settings, config)
    open_study(settings, "imported")
    token = create_invites(settings, study="imported", n=1)[0].token
    app_ = create_app(settings, ui=False, worker=ExplanationWorker(settings, explain_fn=failing_explainer))
    seen = {"none": 0, METHOD: 0}
    with TestClient(app_) as client:
        joined = client.post("/api/v1/invites/accept", json={"invite": token, "pid": "P-1"})
        assert joined.status_code == 200, joined.text
        h = {"Authorization": f"Bearer {joined.json()['token']}"}
        for step in range(8):
            payload = client.get("/api/v1/studies/imported/next", headers=h).json()
            seen[payload["condition"]] += 1
            if payload["condition"] == METHOD:
                [entry] = payload["explanations"]
                assert (entry["method"], entry["title"], entry["kind"], entry["status"]) == (
                    METHOD,
                    TITLE,
                    "heatmap",
                    "ready",
                )
                image = client.get(entry["image_url"], headers=h)
                assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
            else:
                assert payload["explanations"] == []
            body = {
                "assignment_id": payload["assignment_id"],
                "idempotency_key": f"k{step}",
                "answers": {"model_correct": True, "trust": 4},
            }
            assert client.post("/api/v1/judgements", json=body, headers=h).status_code == 201
        assert client.get("/api/v1/studies/imported/next", headers=h).status_code == 204
    assert seen == {"none": 4, METHOD: 4}
    with read_session(settings) as s:
        assert s.scalar(select(func.count(Judgement.id))) == 8


def test_a_study_needs_each_item_s_imported_map_and_an_imported_name(settings, external, tmp_path):
    test_items, _ = external
    import_explanations(settings, write_maps(tmp_path / "maps", test_items[:6]), model="ext", method=METHOD)
    config = {
        "name": "s",
        "dataset": "shapes",
        "model": "ext",
        "items": {"split": "test", "n": 8, "model_errors": None},
        "conditions": ["none", METHOD],
        "raters_per_item": 2,
        "items_per_rater": 8,
    }
    missing = sorted(item.id for item in test_items[6:])
    with pytest.raises(
        StudyError,
        match=rf"imported method '{METHOD}' has no heatmap of model 'ext' for items "
        rf"\[{missing[0]}, {missing[1]}\]",
    ):
        create_study(settings, config)
    with pytest.raises(
        StudyConfigError, match=r"unknown method 'lab_smoothgrd'; did you mean 'lab_smoothgrad'"
    ):
        create_study(settings, {**config, "conditions": ["none", "lab_smoothgrd"]})
    with pytest.raises(
        StudyError,
        match=r"model 'ext' is external \(imported predictions\): it cannot be run, so "
        r"gradcam cannot be computed",
    ):
        create_study(settings, {**config, "conditions": ["none", "gradcam"]})


def _bad_folder(case: str, folder: Path, items: list[Item], train: list[Item]) -> tuple[str, str, str]:
    """Write a folder with one problem; returns (model, method, expected text)."""
    write_maps(folder, items)
    first = items[0].id
    if case == "unknown-item":
        np.save(folder / "999999.npy", peak_map(SIZE, SIZE, 0))
        return "ext", METHOD, "999999.npy: no item with id 999999 in the dataset"
    if case == "duplicate":
        Image.fromarray(np.zeros((SIZE, SIZE), np.uint8), mode="L").save(folder / f"{first}.png")
        return "ext", METHOD, f"{first}.png: item {first} has another heatmap, {first}.npy: keep one"
    if case == "nan":
        heatmap = peak_map(SIZE, SIZE, 0)
        heatmap[3, 4] = np.nan
        np.save(folder / f"{first}.npy", heatmap)
        return "ext", METHOD, f"{first}.npy has 1 NaN or infinite values"
    if case == "not-2d":
        np.save(folder / f"{first}.npy", np.zeros((2, SIZE, SIZE), np.float32))
        return "ext", METHOD, f"{first}.npy has shape [2, 32, 32]: a heatmap is [H, W]"
    if case == "colour-png":
        (folder / f"{first}.npy").unlink()
        Image.new("RGB", (SIZE, SIZE), "red").save(folder / f"{first}.png")
        return "ext", METHOD, f"{first}.png is a RGB image: save the heatmap as a grayscale PNG"
    if case == "no-prediction":
        np.save(folder / f"{train[0].id}.npy", peak_map(SIZE, SIZE, 0))
        return "ext", METHOD, f"{train[0].id}.npy: model 'ext' has no prediction of item {train[0].id}"
    if case == "unknown-model":
        return "nope", METHOD, "model 'nope' does not exist"
    if case == "built-in-name":
        return "ext", "gradcam", "--method 'gradcam' is a built-in method's name"
    if case == "method-json":
        (folder / "method.json").write_text(json.dumps({**META, "colour": "red"}), encoding="utf-8")
        return "ext", METHOD, "method.json: unknown key 'colour'"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "unknown-item",
        "duplicate",
        "nan",
        "not-2d",
        "colour-png",
        "no-prediction",
        "unknown-model",
        "built-in-name",
        "method-json",
    ],
)
def test_bad_files_are_named_and_nothing_is_imported(settings, external, tmp_path, case):
    test_items, train_items = external
    model, method, expected = _bad_folder(case, tmp_path / "maps", test_items, train_items)
    with pytest.raises(ImportProblem) as caught:
        import_explanations(settings, tmp_path / "maps", model=model, method=method)
    assert expected in str(caught.value), str(caught.value)
    assert stored(settings) == (0, 0)


def test_imported_maps_of_a_model_trustlab_can_run_get_faithfulness_scores(settings, tmp_path):
    test_items, _ = dataset_items(settings)
    torch.manual_seed(0)
    register_model(settings, name="cnn", dataset_id=test_items[0].dataset_id,
                   module=build_model("simple_cnn", 2).eval(),
                   spec=ModelSpec(arch="simple_cnn", class_names=CLASSES, img_size=SIZE, mean=IMAGENET_MEAN,
                                  std=IMAGENET_STD))
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[:, : SIZE // 2] = 255
    Image.fromarray(mask).save(settings.images_dir / "mask0.png")
    with unit_of_work(settings) as s:
        s.get(Item, test_items[0].id).mask_path = "mask0.png"
    # The model has no predictions yet: the import predicts the items first.
    result = import_explanations(
        settings, write_maps(tmp_path / "maps", test_items), model="cnn", method=METHOD
    )
    assert result.faithfulness and result.imported == 8
    with read_session(settings) as s:
        rows = {r.prediction_id: r for r in s.scalars(select(Explanation))}
    scores = [row.faithfulness for row in rows.values()]
    assert all({"deletion_auc", "insertion_auc", "road"} <= set(score) for score in scores)
    assert sum("pointing_game" in score for score in scores) == 1  # the one item with an evidence mask
    # The stored scores are faithfulness_scores of the stored map, at the model's input size.
    loaded = load_model(settings, "cnn", device="cpu")
    first = min(rows.values(), key=lambda r: r.id)
    heatmap = resize_map(load_array(settings, first.raw_path), SIZE, SIZE)
    target = CLASSES.index(first.extra["target"])
    [item] = [
        i
        for i in test_items
        if first.extra["imported_from"] in (f"{i.id}.npy", f"{Path(i.source_path).stem}.png")
    ]
    x = loaded.load_items([item])
    expected = faithfulness_scores(loaded.module, x, heatmap[None].copy(), [target])[0]
    assert first.faithfulness["deletion_auc"] == pytest.approx(expected["deletion_auc"])
    assert first.faithfulness["insertion_auc"] == pytest.approx(expected["insertion_auc"])


def test_a_changed_map_or_method_json_on_reimport_is_refused(settings, external, tmp_path):
    test_items, _ = external
    folder = write_maps(tmp_path / "maps", test_items)
    import_explanations(settings, folder, model="ext", method=METHOD)
    first = test_items[0].id
    np.save(folder / f"{first}.npy", peak_map(SIZE, SIZE, 99))
    with pytest.raises(
        ImportProblem, match=rf"{first}\.npy: item {first} already has another '{METHOD}' heatmap"
    ):
        import_explanations(settings, folder, model="ext", method=METHOD)
    (folder / "method.json").write_text(json.dumps({**META, "title": "Another title"}), encoding="utf-8")
    with pytest.raises(
        ImportProblem, match=rf"method.json: method '{METHOD}' was imported before with another"
    ):
        import_explanations(settings, folder, model="ext", method=METHOD)
    assert stored(settings) == (1, 8)
