"""Logging: `trustlab serve --log-level LEVEL` sets trustlab's and uvicorn's level, and an error the
code recovers from still leaves a log record."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from trustlab.cli import _load_verbs
from trustlab.cli.app import app
from trustlab.platform.accounts.auth import hash_password, verify_password
from trustlab.platform.content.worker import ExplanationWorker


@pytest.fixture
def trustlab_logger():
    logger = logging.getLogger("trustlab")
    before = (logger.level, list(logger.handlers))
    yield logger
    logger.setLevel(before[0])
    logger.handlers[:] = before[1]


def test_serve_log_level_parses_and_configures(sqlite_settings, monkeypatch, trustlab_logger):
    import uvicorn

    import trustlab.platform.app

    served = []
    # Everything up to starting the server runs; the server itself (a blocking loop) is recorded.
    monkeypatch.setattr(trustlab.platform.app, "create_app", lambda settings: ("app", settings.home))
    monkeypatch.setattr(uvicorn, "run", lambda the_app, **kwargs: served.append((the_app, kwargs)))
    monkeypatch.setenv("TRUSTLAB_HOME", str(sqlite_settings.home))
    monkeypatch.delenv("TRUSTLAB_DB_URL", raising=False)
    _load_verbs()
    runner = CliRunner()
    result = runner.invoke(app, ["serve", "--port", "7999", "--log-level", "DEBUG"])
    assert result.exit_code == 0, result.output
    expected = {"host": "127.0.0.1", "port": 7999, "log_level": "debug"}
    assert served == [(("app", sqlite_settings.home), expected)]
    assert trustlab_logger.level == logging.DEBUG and trustlab_logger.isEnabledFor(logging.DEBUG)
    handlers = len(trustlab_logger.handlers)
    assert runner.invoke(app, ["serve", "--log-level", "info"]).exit_code == 0
    assert served[-1][1]["log_level"] == "info" and trustlab_logger.level == logging.INFO
    assert len(trustlab_logger.handlers) == handlers  # configuring twice adds no second handler
    assert runner.invoke(app, ["serve"]).exit_code == 0 and served[-1][1]["log_level"] == "warning"
    wrong = runner.invoke(app, ["serve", "--log-level", "loud"])
    assert wrong.exit_code != 0 and "loud" in wrong.output


def test_a_malformed_password_hash_is_refused_and_logged(caplog):
    assert verify_password("pw", hash_password("pw"))
    with caplog.at_level(logging.WARNING, logger="trustlab"):
        assert verify_password("pw", "scrypt$not-a-number$8$1$00$00") is False
    [record] = [r for r in caplog.records if r.name == "trustlab.platform.accounts.auth"]
    assert record.levelno == logging.WARNING and "malformed" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is ValueError


def test_a_failed_explanation_batch_is_logged(sqlite_settings, caplog):
    def explainer(settings, *, model, item_ids, methods):
        raise RuntimeError("no checkpoint")

    worker = ExplanationWorker(sqlite_settings, explain_fn=explainer, window_s=0.01)
    try:
        with caplog.at_level(logging.WARNING, logger="trustlab"), pytest.raises(RuntimeError):
            worker.request("cnn", 1, "lime", timeout=10)
    finally:
        worker.close()
    [record] = [r for r in caplog.records if r.name == "trustlab.platform.content.worker"]
    assert "cnn" in record.getMessage() and "lime" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
