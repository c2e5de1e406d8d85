"""trustlab.job_progress: bars in a terminal, a few timestamped lines in a log, nothing when off."""

from __future__ import annotations

import re

import pytest

from trustlab import job_progress as prog


@pytest.fixture
def log_mode():
    prog.set_mode("log")
    yield
    prog.set_mode(None)


def test_log_mode_writes_one_line_per_tenth_and_one_at_the_end(log_mode, capsys):
    for _ in prog.progress(range(1000), desc="work", unit="img"):
        pass
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10  # 10 %, ..., 90 % and "done"
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d work: ", line) for line in lines)
    assert "10% (100/1000 img)" in lines[0] and "done 100% (1000/1000 img)" in lines[-1]


def test_inner_bars_without_log_every_are_silent_and_notes_are_stamped(log_mode, capsys):
    with prog.progress(total=50, desc="epoch", log_every=None) as bar:
        bar.update(50)
        bar.set_postfix(loss="0.1")
    prog.note("epoch 1: loss 0.1")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].endswith(" epoch 1: loss 0.1")


def test_disabled_and_off_show_nothing(capsys):
    prog.set_mode("off")
    try:
        list(prog.progress(range(100), desc="x"))
        prog.note("hidden")
    finally:
        prog.set_mode(None)
    list(prog.progress(range(100), desc="y", enabled=False))
    assert capsys.readouterr().err == ""


def test_mode_from_environment(monkeypatch):
    monkeypatch.setenv(prog.ENV_VAR, "off")
    assert prog.current_mode() == "off"
    monkeypatch.delenv(prog.ENV_VAR)
    assert prog.current_mode() == "log"  # pytest's captured stderr is not a terminal
    with pytest.raises(ValueError, match="not one of"):
        prog.set_mode("loud")


def test_log_lines_count_their_units_in_the_right_number(log_mode, capsys):
    """"done 60 judgements", not "done 60 judgement"; one unit stays singular."""
    with prog.progress(total=None, desc="simulating", unit="judgement") as bar:
        bar.update(60)
    with prog.progress(total=2, desc="train", unit="batch") as bar:
        bar.update(2)
    with prog.progress(total=None, desc="one", unit="judgement") as bar:
        bar.update(1)
    err = capsys.readouterr().err
    assert "simulating: done 60 judgements" in err and "(2/2 batches)" in err
    assert "one: done 1 judgement in" in err
