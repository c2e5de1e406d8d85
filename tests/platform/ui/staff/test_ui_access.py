"""The UI's access handlers without a browser: sign-out revokes tokens for the REST API too, and the
researcher's CSV exports do not pile up (one file per page, sanitised names, bounded age)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import gradio as gr
import pytest
from fastapi.testclient import TestClient
from gradio.utils import is_static_file

from trustlab.platform.accounts import auth
from trustlab.platform.accounts.invites import accept_invite
from trustlab.platform.app import create_app
from trustlab.platform.routes import API_PREFIX, next_item_path
from trustlab.platform.services import staff
from trustlab.platform.services.rater import Services
from trustlab.platform.ui.exports import (
    EXPORT_MAX_AGE_S,
    export_root,
    safe_filename,
    serve_exports_from,
    sweep_exports,
    write_export,
)
from trustlab.platform.ui.rater.access import rater_storage, sign_out
from trustlab.platform.ui.rater.page import build_rater_tab
from trustlab.platform.ui.rater.state import RaterState
from trustlab.platform.ui.staff.results import results as research_results
from trustlab.platform.ui.staff.signin import do_logout
from trustlab.studies.design.create import close_study


@pytest.fixture
def api(world):
    with TestClient(create_app(world.settings, ui=False)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_auth_logout_revokes_and_is_idempotent(world, api):
    token = accept_invite(world.settings, invite=world.invite("alpha")[0]).token
    assert api.get(next_item_path("alpha"), headers=bearer(token)).status_code == 200
    auth.logout(world.settings, token)
    assert api.get(next_item_path("alpha"), headers=bearer(token)).status_code == 401
    auth.logout(world.settings, token)  # twice, or with nothing, just signs out
    auth.logout(world.settings, None)


def test_rater_sign_out_handler_revokes_the_token_and_clears_the_browser(world, api):
    services = Services(world.settings)
    token = accept_invite(world.settings, invite=world.invite("alpha")[0]).token
    with gr.Blocks():
        view = build_rater_tab(services, rater_storage())
    out = sign_out(services, view, {"token": token, "invite": "abc"}, RaterState(token=token))
    assert out[0] == {}  # the browser's stored value is emptied
    assert "Signed out" in out[2]["value"]
    assert api.get(next_item_path("alpha"), headers=bearer(token)).status_code == 401


def test_staff_sign_out_revokes_the_token(world, api):
    auth.create_user(world.settings, username="rita", role="researcher", password="rita-pw-1234")
    token = auth.login(world.settings, username="rita", password="rita-pw-1234").token
    assert api.get(f"{API_PREFIX}/studies", headers=bearer(token)).status_code == 200
    do_logout(Services(world.settings), {"token": token, "role": "researcher"})
    assert api.get(f"{API_PREFIX}/studies", headers=bearer(token)).status_code == 401


def test_exporting_twice_leaves_one_file_served_without_a_gradio_copy(world):
    services = Services(world.settings)
    auth.create_user(world.settings, username="rita", role="researcher", password="rita-pw-1234")
    st = {"token": auth.login(world.settings, username="rita", password="rita-pw-1234").token}
    close_study(world.settings, "alpha", actor="test")  # unblinded: the CSV may be exported
    serve_exports_from(world.settings.home)
    principal = auth.authenticate(world.settings, st["token"])
    first = research_results(services, principal, "alpha", None).exported
    second = research_results(services, principal, "alpha", first).exported
    assert not Path(first["judgements"]).exists() and not Path(first["report"]).exists()
    files = sorted(p for p in export_root(world.settings.home).rglob("*") if p.is_file())
    assert files == sorted(Path(second[k]) for k in ("judgements", "report"))  # alpha has no participants
    judgements = Path(second["judgements"])
    assert judgements.name == "alpha-judgements.csv" and Path(second["report"]).name == "alpha-report.html"
    expected = staff.judgements_csv(services, principal, study="alpha")
    assert judgements.read_text(encoding="utf-8") == expected
    assert oct(judgements.stat().st_mode & 0o777) == oct(0o600)
    assert oct(judgements.parent.stat().st_mode & 0o777) == oct(0o700)
    # A static path: Gradio serves it from here and puts no copy into its own cache.
    assert is_static_file(str(judgements))
    # Signed out (or never signed in): nothing is written, the page's last exports are kept as they were.
    assert research_results(services, None, "alpha", second).exported == second


def test_export_names_are_sanitised_and_old_exports_expire(tmp_path):
    root = tmp_path / "exports"
    path = write_export(root, name="../../etc/pa ss\nwd;rm -rf", suffix=".csv", text="a,b\n")
    assert path.parent.parent == root.resolve()
    assert path.name == "etc_pa_ss_wd_rm_-rf.csv"
    assert safe_filename("...", suffix=".csv") == "export.csv"
    assert safe_filename("x" * 500, suffix=".csv") == "x" * 100 + ".csv"
    old = time.time() - EXPORT_MAX_AGE_S - 60
    os.utime(path.parent, (old, old))
    fresh = write_export(root, name="b", suffix=".csv", text="c\n")  # any export sweeps expired ones
    assert not path.exists() and fresh.exists()
    assert sweep_exports(root, now=time.time() + EXPORT_MAX_AGE_S + 1) == 1
    assert list(root.iterdir()) == []
