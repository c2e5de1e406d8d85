"""Gradio's queue is set from Settings: the rater page's events share one concurrency group, staff
events keep the default limit, and the queue's size is bounded (TRUSTLAB_UI_* variables)."""

from __future__ import annotations

from trustlab.config import load_settings
from trustlab.platform.services.rater import Services
from trustlab.platform.ui.build import build_ui
from trustlab.platform.ui.queue import RATER_GROUP


def test_queue_limits_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_UI_CONCURRENCY", "7")
    monkeypatch.setenv("TRUSTLAB_UI_RATER_CONCURRENCY", "3")
    monkeypatch.setenv("TRUSTLAB_UI_QUEUE_SIZE", "50")
    settings = load_settings(home=tmp_path)
    settings.ensure_dirs()
    assert (settings.ui_concurrency, settings.ui_rater_concurrency, settings.ui_queue_size) == (7, 3, 50)
    demo = build_ui(Services(settings))
    assert demo._queue.max_size == 50 and demo._queue.default_concurrency_limit == 7
    config = demo.get_config_file()
    elem_ids = {c["id"]: (c.get("props") or {}).get("elem_id") for c in config["components"]}
    fns = {fn.name: fn for fn in demo.fns.values()}
    by_trigger = {
        (elem_ids.get(block_id), event): fn for fn in demo.fns.values() for block_id, event in fn.targets
    }
    rater = [by_trigger[("tl-submit", "click")], fns["on_load"], by_trigger[("tl-rater-signout", "click")]]
    assert all((fn.concurrency_id, fn.concurrency_limit) == (RATER_GROUP, 3) for fn in rater)
    # Staff sign-in is not a rater event: its own group, the default limit.
    assert fns["sign_in"].concurrency_id != RATER_GROUP and fns["sign_in"].concurrency_limit == "default"


def test_no_own_limit_for_rater_events(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTLAB_UI_RATER_CONCURRENCY", "0")
    settings = load_settings(home=tmp_path)
    settings.ensure_dirs()
    demo = build_ui(Services(settings))
    on_load = next(fn for fn in demo.fns.values() if fn.name == "on_load")
    assert on_load.concurrency_id == RATER_GROUP and on_load.concurrency_limit is None


def test_direct_gate_runs_at_most_its_limit_at_once_and_returns_every_result():
    import asyncio
    import threading
    import time

    from trustlab.platform.ui.queue import DirectGate

    running, most, lock = [0], [0], threading.Lock()

    def handler(i: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return i * 2

    gated = DirectGate(3).wrap(handler)

    async def burst() -> list[int]:
        return await asyncio.gather(*(gated(i) for i in range(12)))

    assert asyncio.run(burst()) == [i * 2 for i in range(12)]
    assert most[0] == 3


def test_submit_skips_the_queue_and_is_gated(tmp_path, monkeypatch):
    import inspect

    monkeypatch.setenv("TRUSTLAB_UI_RATER_CONCURRENCY", "2")
    settings = load_settings(home=tmp_path)
    settings.ensure_dirs()
    demo = build_ui(Services(settings))
    config = demo.get_config_file()
    elem_ids = {c["id"]: (c.get("props") or {}).get("elem_id") for c in config["components"]}
    submit = next(
        fn for fn in demo.fns.values()
        if any(elem_ids.get(block_id) == "tl-submit" and event == "click" for block_id, event in fn.targets)
    )
    dep = next(d for d in config["dependencies"] if d["id"] == submit._id)
    assert dep["queue"] is False and submit.queue is False
    assert inspect.iscoroutinefunction(submit.fn)  # DirectGate's wrapper
    # The load event (sign-in) stays on the queue, in the rater group.
    on_load = next(fn for fn in demo.fns.values() if fn.name == "on_load")
    assert on_load.queue is not False and on_load.concurrency_limit == 2
