"""Predictions made elsewhere (`trustlab predictions import`): an external model that cannot be run,
all-or-nothing imports, and errors that name the CSV lines at fault."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.helpers.builders import make_image_dataset
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.items import list_items
from trustlab.db.schema import ModelVersion, Prediction
from trustlab.models.checkpoint import load_model
from trustlab.models.errors import ModelError
from trustlab.models.external import ExternalModelError, ImportProblem, import_predictions

CLASSES = ("square", "disc")


@pytest.fixture
def items(settings):
    dataset_id = make_image_dataset(settings, classes=CLASSES, per_class={"train": 1, "test": 3})
    with read_session(settings) as s:
        return list_items(s, dataset_id=dataset_id, split="test")


def write_csv(tmp_path: Path, lines: list[str], name: str = "preds.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def good_lines(items) -> list[str]:
    """Ids for some rows, ingested file names (with and without suffix) for others."""
    lines = ["item,disc,square"]
    for k, item in enumerate(items):
        key = str(item.id) if k % 3 == 0 else Path(item.source_path).name if k % 3 == 1 else \
            Path(item.source_path).stem
        p = 0.9 if item.current_label == "disc" else 0.2
        lines.append(f"{key},{p},{1 - p:.4f}")
    return lines


def counts(settings) -> tuple[int, int]:
    with read_session(settings) as s:
        return (s.scalar(select(func.count(ModelVersion.id))), s.scalar(select(func.count(Prediction.id))))


def test_predictions_csv_makes_an_external_model_that_cannot_be_run(settings, items, tmp_path):
    path = write_csv(tmp_path, good_lines(items))
    result = import_predictions(settings, path, model="ext", dataset="shapes")
    assert (result.created, result.imported, result.unchanged) == (True, len(items), 0)
    with read_session(settings) as s:
        version = s.scalars(select(ModelVersion).where(ModelVersion.name == "ext")).one()
        assert (version.arch, version.checkpoint_path, version.class_names) == ("external", "", list(CLASSES))
        predictions = {p.item_id: p for p in s.scalars(select(Prediction))}
    for item in items:
        p = predictions[item.id]
        # Probabilities in the dataset's class order (square, disc), whatever the CSV's column order.
        assert p.probabilities[1] == pytest.approx(0.9 if item.current_label == "disc" else 0.2)
        assert p.predicted_label == item.current_label
        assert sum(p.probabilities) == pytest.approx(1.0)
    with pytest.raises(ExternalModelError, match=r"model 'ext' is external \(imported predictions\): it "
                       r"cannot be run"):
        load_model(settings, "ext")
    again = import_predictions(settings, path, model="ext", dataset="shapes")
    assert (again.created, again.imported, again.unchanged) == (False, 0, len(items))


def test_label_column_alone_stores_probability_one_with_a_note(settings, items, tmp_path):
    lines = ["id,label"] + [f"{item.id},{item.current_label}" for item in items]
    result = import_predictions(settings, write_csv(tmp_path, lines), model="ext", dataset="shapes")
    assert result.imported == len(items) and "probability 1" in result.notes[0]
    with read_session(settings) as s:
        assert {p.confidence for p in s.scalars(select(Prediction))} == {1.0}


def test_cli_json_and_the_cli_refusing_to_run_an_external_model(settings, items, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_HOME", str(settings.home))
    monkeypatch.setenv("TRUSTLAB_DB_URL", settings.database_url)
    _load_verbs()
    runner = CliRunner()
    path = write_csv(tmp_path, good_lines(items))
    out = runner.invoke(app, ["predictions", "import", str(path), "--model", "ext", "--dataset", "shapes",
                              "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["imported"] == len(items)
    ran = runner.invoke(app, ["evaluate", "--model", "ext"])
    assert ran.exit_code == 1
    assert "is external (imported predictions): it cannot be run" in " ".join(ran.output.split())


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda lines: lines[:1] + ["999999,0.5,0.5"] + lines[1:], [r"line 2: no item with id 999999"]),
        (lambda lines: lines + ["no_such_file.png,0.5,0.5"],
         [r"line 8: no item of the dataset was ingested from 'no_such_file.png'"]),
        (lambda lines: ["item,disc,square,cat"] + [f"{ln},0" for ln in lines[1:]],
         [r"line 1 \(header\), column 4: unknown class 'cat'"]),
        (lambda lines: ["item,disc"] + [ln.rsplit(",", 1)[0] for ln in lines[1:]],
         [r"no probability column for classes square"]),
        (lambda lines: lines[:2] + [lines[2].rsplit(",", 1)[0] + ",0.5"] + lines[3:],
         [r"line 3: probabilities sum to \d\.\d+, not 1 \(± 0\.001\)"]),
        (lambda lines: lines[:3] + [lines[3].split(",")[0] + ",nan,0.5"],
         [r"line 4, column 'disc': nan \(NaN or infinite\) is not a probability"]),
        (lambda lines: lines + [lines[1]],
         [r"line 8: item \d+ \('\d+'\) is also on line 2: give each item one row"]),
        (lambda lines: lines[:2] + [lines[2].split(",")[0] + ",abc,0.5"] + lines[3:],
         [r"line 3, column 'disc': 'abc' is not a number"]),
        (lambda lines: [lines[0] + ",label"] + [f"{ln},cat" for ln in lines[1:]],
         [r"line 2: unknown class 'cat' in column `label`", r"line 4: unknown class 'cat'"]),
    ],
    ids=["unknown-id", "unknown-path", "unknown-class", "missing-class", "sum", "nan", "duplicate",
         "not-a-number", "unknown-label"],
)
def test_bad_rows_are_named_and_nothing_is_imported(settings, items, tmp_path, mutate, expected):
    path = write_csv(tmp_path, mutate(good_lines(items)))
    before = counts(settings)
    with pytest.raises(ImportProblem) as caught:
        import_predictions(settings, path, model="ext", dataset="shapes")
    message = str(caught.value)
    assert str(path) in message and "nothing was imported" in message
    for pattern in expected:
        assert re.search(pattern, message), (pattern, message)
    assert counts(settings) == before  # no model, no prediction


def test_every_bad_row_is_listed_at_once_and_a_changed_reimport_is_refused(settings, items, tmp_path):
    lines = good_lines(items)
    lines[1] = lines[1].split(",")[0] + ",0.7,0.7"
    lines[2] = lines[2].split(",")[0] + ",-0.1,1.1"
    with pytest.raises(ImportProblem) as caught:
        import_predictions(settings, write_csv(tmp_path, lines), model="ext", dataset="shapes")
    assert "line 2: probabilities sum to 1.4" in str(caught.value)
    assert "line 3, column 'disc': -0.1 is not a probability" in str(caught.value)
    import_predictions(settings, write_csv(tmp_path, good_lines(items)), model="ext", dataset="shapes")
    flipped = ["item,disc,square"] + [f"{ln.split(',')[0]},0.5,0.5" for ln in good_lines(items)[1:]]
    with pytest.raises(ImportProblem, match=r"line 2: item \d+ already has another prediction of model"):
        import_predictions(settings, write_csv(tmp_path, flipped, "b.csv"), model="ext", dataset="shapes")
    with read_session(settings) as s:
        assert {round(p.confidence, 1) for p in s.scalars(select(Prediction))} == {0.8, 0.9}


def test_a_model_trustlab_runs_takes_no_imported_predictions(settings, items, tmp_path):
    with unit_of_work(settings) as s:
        s.add(ModelVersion(name="cnn", dataset_id=items[0].dataset_id, arch="simple_cnn", checkpoint_path="x",
                           checkpoint_sha256="0" * 64, class_names=list(CLASSES), img_size=32))
    with pytest.raises(ModelError, match="model 'cnn' is a simple_cnn model that trustlab runs"):
        import_predictions(settings, write_csv(tmp_path, good_lines(items)), model="cnn", dataset="shapes")


def test_item_keys_ids_paths_and_ambiguity():
    """Ids, ingested paths (whole, last parts, without suffix); '0001' is a file name, never id 1; a
    number that is one item's id and another's file name, or a name of two items, is ambiguous."""
    from trustlab.db.schema import Item
    from trustlab.models.external import ItemKeys

    def item(item_id: int, source: str) -> Item:
        return Item(id=item_id, path=f"ab/{item_id:064d}.png", source_path=source)

    keys = ItemKeys([item(1, "/d/cars/0001.jpg"), item(2, "/d/vans/0001.jpg"), item(3, "/d/cars/2.jpg"),
                     item(4, "C:\\d\\cars\\b.png")])
    assert keys.find("1")[0].id == 1 and keys.find("cars/0001")[0].id == 1
    assert keys.find("/d/vans/0001.jpg")[0].id == 2 and keys.find("b")[0].id == 4
    assert keys.find("cars\\b.png")[0].id == 4
    assert "fits 2 items (ids [1, 2])" in keys.find("0001")[1]
    assert "'2' is item id 2 and also the file name of item 3" in keys.find("2")[1]
    assert keys.find("2", ids=False)[0].id == 3
    assert "no item with id 9 in the dataset, and none was ingested from '9'" in keys.find("9")[1]
