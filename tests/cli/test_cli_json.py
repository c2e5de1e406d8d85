"""Every verb's --json output parsed, exit codes, logs off a terminal, tables at 80 columns.

One module-scoped world (a small dataset, two one-epoch models, a study with simulated raters) is
shared by every test here: the machine is shared, so each thing is built once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from tests.helpers.builders import make_image_dataset
from tests.helpers.study_builders import make_model, study_config
from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.cli.output import set_verbosity
from trustlab.cli.tables import fmt
from trustlab.config import load_settings
from trustlab.db.engine import dispose_engines

OFFLINE = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
COMMON = ["--dataset", "shapes", "--arch", "simple_cnn", "--img-size", "16", "--batch-size", "8"]
# Verbs that print no result to parse: a server, the interactive demo.
NO_JSON = {("serve",), ("demo",)}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """TRUSTLAB_HOME with dataset "shapes" (models a and b, 1 epoch each) and study s1 (open, 6
    simulated raters) on dataset "rated" with the planted-errors model "cnn"."""
    import torch

    home = tmp_path_factory.mktemp("cli") / "home"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRUSTLAB_HOME", str(home))
        mp.delenv("TRUSTLAB_DB_URL", raising=False)
        mp.delenv("COLUMNS", raising=False)
        for key, value in OFFLINE.items():
            mp.setenv(key, value)
        settings = load_settings(home=home, db_url="")
        make_image_dataset(settings, name="shapes", classes=("square", "disc", "cross"),
                           per_class={"train": 6, "val": 2, "test": 4}, size=16)
        rated = make_image_dataset(settings, name="rated", classes=("square", "disc", "cross"),
                                   per_class={"train": 1, "test": 8}, size=16, seed=1)
        make_model(settings, dataset_id=rated)
        _load_verbs()
        runner = CliRunner()

        def cli(*args, code=0, env=None):
            result = runner.invoke(app, [str(a) for a in args], env=env)
            assert result.exit_code == code, (args, result.output)
            return result

        def js(*args, **kwargs):
            return json.loads(cli(*args, "--json", **kwargs).stdout)

        trained = js("train", *COMMON, "--name", "a", "--epochs", 1)
        assert trained["model"] == "a" and 0 <= trained["val_acc"] <= 1
        cli("train", *COMMON, "--name", "b", "--epochs", 2, "--quiet")
        study_yaml = home.parent / "study.yaml"
        study_yaml.write_text(yaml.safe_dump(study_config(dataset="rated")))
        created = js("study", "create", study_yaml)
        assert created["study"] == "s1" and created["status"] == "draft" and created["balance"]["conditions"]
        opened = js("study", "open", "s1")
        assert (opened["study"], opened["status"]) == ("s1", "open")
        assert opened["preregistration"]["statement"].startswith("not pre-registered: default primary")
        simulated = js("simulate-raters", "s1", "--n", 6, "--seed", 2)
        assert simulated["raters"] == 6 and simulated["judgements"] > 0
        yield {"home": home, "settings": settings, "cli": cli, "js": js}
    set_verbosity("normal")
    torch.set_num_threads(threads)
    dispose_engines()


def test_data_and_model_verbs_print_json(world, tmp_path):
    js = world["js"]
    datasets = {d["name"]: d for d in js("datasets")}
    assert datasets["shapes"]["classes"] == ["square", "disc", "cross"] and datasets["shapes"]["items"] == 36
    assert datasets["shapes"]["splits"]["test"] == {"cross": 4, "disc": 4, "square": 4}
    models = {m["name"]: m for m in js("models")}
    assert {"a", "b", "cnn"} <= set(models) and models["a"]["arch"] == "simple_cnn"
    evaluated = js("evaluate", "--model", "a")
    assert evaluated["model"] == "a" and evaluated["metrics"]["n"] == 12
    assert len(evaluated["per_class"]) == 3 and 0 <= evaluated["metrics"]["accuracy"] <= 1
    compared = js("compare", "a", "b", "--out", tmp_path / "c.csv")
    assert [row["model"] for row in compared["models"]] == ["a", "b"]
    assert Path(compared["csv"]).is_file() and isinstance(compared["changed"], list)
    predicted = js("predict", "--model", "a", "--split", "test")
    assert set(predicted) == {"model", "kind", "added", "skipped"}
    assert (predicted["added"], predicted["skipped"]) == (12, 0)
    crossval = js("predict", "--model", "a", "--cross-val", 2, "--cv-epochs", 1)
    assert crossval["kind"] == "crossval" and crossval["added"] == 24
    explained = js("explain", "--model", "a", "--methods", "gradcam", "--no-faithfulness")
    assert explained["model"] == "a" and explained["methods"][0]["method"] == "gradcam"
    assert explained["methods"][0]["explanations"] == 12
    relabelled = js("relabel", "--model", "a", "--dataset", "shapes", "--out", tmp_path / "r")
    assert relabelled["counts"]["items"] == 36 and set(relabelled["files"]) >= {"proposals"}
    queue = js("labels", "queue", "--dataset", "shapes")
    assert isinstance(queue, list) and len(queue) == min(20, len(relabelled["proposals"]))
    assert js("db", "current") == {"revision": js("db", "upgrade")["revision"]}


def test_study_verbs_print_json(world, tmp_path):
    js = world["js"]
    status = js("study", "status", "s1")
    assert status["study"] == "s1" and status["blinding"]["blinded"] is True
    assert sum(c["done"] for c in status["per_condition"].values()) == 36
    analysed = js("analyze", "s1", "--out", tmp_path / "report", "--replicates", 20, "--unblind")
    assert analysed["n_judgements"] == 36 and Path(analysed["summary"]).is_file()
    exported = js("study", "export", "s1", "--out", tmp_path / "export")
    assert Path(exported["csv"]).is_file()
    power = js("study", "power", world["home"].parent / "study.yaml", "--raters", "6", "--sims", 20,
               "--out", tmp_path / "power.png")
    assert [row["raters"] for row in power["rows"]] == [6] and 0 <= power["rows"][0]["power"] <= 1
    assert js("study", "close", "s1") == {"study": "s1", "status": "closed"}
    doctor = js("doctor")
    assert doctor["ok"] is True and {c["check"] for c in doctor["checks"]} >= {"database", "home", "cuda"}


def test_every_result_verb_has_json():
    _load_verbs()

    def leaves(group, prefix=()):
        for name, command in group.commands.items():
            if getattr(command, "commands", None):
                yield from leaves(command, (*prefix, name))
            else:
                yield (*prefix, name), command

    missing = [" ".join(path) for path, command in leaves(get_command(app))
               if path not in NO_JSON and not any("--json" in p.opts for p in command.params)]
    assert missing == []


def test_exit_codes_and_streams(world):
    cli = world["cli"]
    missing = cli("evaluate", "--model", "ghost", "--json", code=1)
    assert missing.stdout == "" and "model 'ghost' does not exist" in missing.stderr
    assert "No such option" in cli("models", "--jsn", code=2).output
    bracketed = cli("study", "status", "no [such] study", code=1)
    assert "'no [such] study' does not exist" in bracketed.stderr
    assert "exclude each other" in cli("--quiet", "--verbose", "models", code=2).stderr
    quiet = cli("predict", "--model", "a", "--split", "val", "--quiet")
    assert quiet.stderr == "" and "predictions of a" in quiet.stdout
    assert cli("--quiet", "predict", "--model", "a", "--split", "val").stderr == ""


def test_compare_at_80_columns_shows_every_number_of_the_csv(world, tmp_path):
    out = world["cli"]("compare", "a", "b", "--out", tmp_path / "c.csv", env={"COLUMNS": "80"}).stdout
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
    table = pd.read_csv(tmp_path / "c.csv")
    for column in table.columns:
        assert column in out
        for value in table[column]:
            shown = fmt(value.item() if hasattr(value, "item") else value)
            assert shown in out, (column, value, out)


def test_predict_cross_val_log_stays_short_off_a_terminal(world, tmp_path):
    log = tmp_path / "job.log"
    env = {**os.environ, "TRUSTLAB_HOME": str(world["home"]), "OMP_NUM_THREADS": "1"}
    env.pop("TRUSTLAB_DB_URL", None)
    with log.open("w") as handle:
        command = ["predict", "--model", "b", "--cross-val", "2", "--cv-epochs", "3"]
        done = subprocess.run([sys.executable, "-m", "trustlab", *command], stdout=handle,
                              stderr=subprocess.STDOUT, env=env, check=False, timeout=600)
    text = log.read_text()
    assert done.returncode == 0, text
    lines = text.splitlines()
    assert len(lines) < 100 and "\r" not in text
    assert sum("fold 1/2 epoch" in line for line in lines) == 3  # one line per epoch, timestamped
    assert "crossval predictions of b: 24 added" in text


def test_doctor_healthy_and_broken(world, tmp_path):
    cli = world["cli"]
    assert "ready" in cli("doctor").stdout
    unreachable = cli("doctor", "--json", code=1,
                      env={"TRUSTLAB_DB_URL": "postgresql+psycopg://u:s3cret@127.0.0.1:1/x"})
    checks = {c["check"]: c for c in json.loads(unreachable.stdout)["checks"]}
    assert checks["database"]["status"] == "fail" and "s3cret" not in unreachable.stdout
    assert "TRUSTLAB_DB_URL" in checks["database"]["fix"]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    unwritable = cli("doctor", code=1, env={"TRUSTLAB_HOME": str(blocker / "home")})
    text = " ".join(unwritable.stdout.split())
    assert "not a folder" in text and "fix: set TRUSTLAB_HOME" in text and "not ready" in text
