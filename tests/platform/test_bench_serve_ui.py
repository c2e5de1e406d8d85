"""bench_serve.py --burst at tiny size: a few participants through the REST API and through the Gradio
page's own events (load with the invite's query string, Submit clicks through Gradio's queue) against a
real server subprocess; every acknowledged submit is in the database, and the table says so."""

from __future__ import annotations

import shutil
import sys
from argparse import Namespace
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def serve_burst(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the benchmark's modules import each other by name
    for name in ("serve_burst", "serve_ui", "serve_server", "serve_world"):
        sys.modules.pop(name, None)
    import serve_burst

    return serve_burst


def test_burst_ui_and_rest_lose_nothing(serve_burst, capsys):
    args = Namespace(participants=3, items=2, join_window_s=1.0, think_s=(0.05, 0.1), modes="rest,ui",
                     join="invite", db_url="")
    rows = [serve_burst.run_mode(mode, args) for mode in ("rest", "ui")]
    for row in rows:
        assert row["errors"] == [], row["errors"]
        assert row["joined"] == 3 and row["finished"] == 3
        assert row["acked"] == row["stored"] == row["submits"] == 6
    ui = rows[1]
    assert ui["wait50"] is not None and ui["wait50"] <= ui["p50"]  # the queue wait is part of the latency
    assert serve_burst.print_table(rows, args)
    table = capsys.readouterr().out
    assert "queue p50/p95/p99 ms" in table and "RESULT: OK, nothing lost" in table
    modes = [line.split()[0] for line in table.splitlines() if line.startswith(("rest ", "ui "))]
    assert modes == ["rest", "ui"]  # one table, the REST baseline first


def test_burst_rest_joins_by_public_link(serve_burst):
    """--join link: participants join one public-link study by their Prolific ids."""
    args = Namespace(participants=3, items=2, join_window_s=1.0, think_s=(0.05, 0.1), modes="rest",
                     join="link", db_url="")
    row = serve_burst.run_mode("rest", args)
    assert row["errors"] == [], row["errors"]
    assert row["joined"] == row["finished"] == 3
    assert row["acked"] == row["stored"] == 6


def test_page_events_found_by_elem_id(serve_burst):
    """The harness finds the Submit click and the load event in the page's config, not by event names."""
    from serve_ui import PageEvents, screen_from

    config_like = {
        "components": [
            {"id": 1, "type": "button", "props": {"elem_id": "tl-submit"}},
            {"id": 2, "type": "html", "props": {"elem_id": "tl-stage"}},
            {"id": 3, "type": "radio", "props": {"elem_id": "tl-q-model_correct"}},
            {"id": 4, "type": "html", "props": {"elem_id": "tl-notice"}},
        ],
        "dependencies": [
            {"id": 7, "targets": [[1, "click"]], "inputs": [3], "outputs": [2, 3, 4]},
            {"id": 9, "targets": [[0, "load"]], "inputs": [], "outputs": [2, 3, 4]},
        ],
    }

    class FakeClient:  # only the config: the real page is exercised in the test above
        def get(self, path):
            assert path == "/config"
            return Namespace(raise_for_status=lambda: Namespace(json=lambda: config_like))

    page = PageEvents.read(FakeClient())
    assert (page.submit_fn, page.load_fn, page.submit_trigger) == (7, 9, 1)
    item = screen_from(page, [2, 3, 4], ['<div data-assignment="5">', {"visible": True, "choices": []}, ""])
    assert (item.kind, item.assignment_id) == ("item", 5)
    done = screen_from(page, [2, 3, 4], ["", {"visible": False}, '<div class="tl-done">'])
    assert done.kind == "done"


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (apt-get install nginx)")
def test_burst_ui_through_nginx_with_two_workers(serve_burst, capsys):
    """--workers 2: two servers on one database behind nginx running deploy/nginx.conf; each participant's
    own route cookie spreads the UI over both workers, and nothing acknowledged is lost."""
    args = Namespace(participants=12, items=2, join_window_s=1.0, think_s=(0.05, 0.1), modes="ui",
                     join="link", db_url="", workers=2)
    row = serve_burst.run_mode("ui", args)
    assert row["errors"] == [], row["errors"]
    assert row["joined"] == row["finished"] == 12
    assert row["acked"] == row["stored"] == row["submits"] == 24
    # nginx's access log: both workers answered page events (12 distinct cookies all on one worker of two:
    # a chance of 1 in 2048 per run, since nginx's consistent hash places the run's random ports)
    per_worker = row["requests_per_worker"]
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker), per_worker
    assert sum(per_worker) >= 12 * 3  # at least one request per event: a load and 2 submits each
    assert row["cpu_parts_ms"]["nginx"] > 0 and row["client_ms"] > 0
    assert serve_burst.print_table([row], args)
    table = capsys.readouterr().out
    assert "database SQLite" in table and "trustlab_route cookie" in table
    ui_line = next(line for line in table.splitlines() if line.startswith("ui "))
    assert ui_line.split()[:2] == ["ui", "2"]  # the workers column
