"""Take the README's screenshots from a finished demo: serve TRUSTLAB_HOME, open the printed invite
link, the researcher tab and the curator tab in headless Chromium, and the report file (the rating
screen at 1366 x 768 and at 390 x 844).

    TRUSTLAB_HOME=.trustlab .venv/bin/python scripts/readme_screenshots.py docs/screenshots
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import sync_playwright

from trustlab.config import load_settings
from trustlab.demo import CURATOR, RESEARCHER, STUDY, load_credentials, report_dir
from trustlab.platform.accounts.invites import create_invites
from trustlab.platform.app import create_app

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sign_in(page, prefix: str, user: str, password: str) -> None:
    page.fill(f"#{prefix}-user input, #{prefix}-user textarea", user)
    page.fill(f"#{prefix}-password input", password)
    page.click(f"#{prefix}-signin")
    page.wait_for_selector(f"#{prefix}-status :text('Signed in as')", timeout=TIMEOUT_MS)


def main(out: Path) -> None:
    settings = load_settings()
    creds = load_credentials(settings)
    out.mkdir(parents=True, exist_ok=True)
    port = _port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    invite = create_invites(settings, study=STUDY, n=1, base_url=base)[0].url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=LAUNCH_ARGS)
        # The rating screen as a laptop (1366 x 768, what is on screen without scrolling) and a phone
        # (390 x 844, the whole page) show it.
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(invite)
        page.wait_for_selector(".tl-stage", timeout=TIMEOUT_MS)
        for _ in range(4):  # answer (y, class 1, trust 5, helpfulness 5, confidence 5) until an
            if page.locator(".tl-expl img").count():  # item shows an explanation
                break
            before = page.get_attribute(".tl-stage", "data-assignment")
            for key in ("y", "1", "5", "5", "5", "Enter"):
                page.keyboard.press(key)
                page.wait_for_timeout(200)
            page.wait_for_function(
                "a => { const e = document.querySelector('.tl-stage');"
                " return e && e.getAttribute('data-assignment') !== a; }", arg=before, timeout=TIMEOUT_MS)
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / "rating.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / "rating-phone.png"), full_page=True)

        staff = browser.new_page(viewport={"width": 1280, "height": 900})
        staff.goto(base)
        staff.click("#tl-tab-research-button")
        _sign_in(staff, "tl-res", RESEARCHER, creds[RESEARCHER])
        staff.wait_for_selector(":text('judgements from')", timeout=TIMEOUT_MS)
        staff.wait_for_timeout(800)
        staff.screenshot(path=str(out / "researcher.png"), full_page=True)
        staff.click("#tl-tab-curate-button")
        _sign_in(staff, "tl-cur", CURATOR, creds[CURATOR])
        staff.wait_for_selector(".tl-cur-card", timeout=TIMEOUT_MS)
        staff.wait_for_timeout(800)
        staff.screenshot(path=str(out / "curator.png"), full_page=True)

        report = browser.new_page(viewport={"width": 1280, "height": 1400})
        report.goto((report_dir(settings) / "report.html").resolve().as_uri())
        report.wait_for_timeout(800)
        report.screenshot(path=str(out / "report.png"))
        browser.close()
    server.should_exit = True
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
