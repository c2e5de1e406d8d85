"""The README's multi-worker deployment, for real: two `trustlab serve` workers on one database behind
nginx running deploy/nginx.conf (the file the README shows), and raters finishing their items in headless
Chromium. Each browser's UI traffic stays on one worker (Gradio keeps a tab's state in that worker's
memory), the two raters land on different workers, the REST API is spread over both, and nginx refuses
oversized bodies."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.helpers.platform_world import build_world
from tests.helpers.serve_workers import free_port, start_worker
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Assignment, User

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CHROMIUM = "/usr/bin/chromium"
TEMPLATE = Path(__file__).parents[2] / "deploy" / "nginx.conf"
README = Path(__file__).parents[2] / "docs" / "deployment.md"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 30_000
START_TIMEOUT_S = 60
DOCUMENTED_PORTS = ("127.0.0.1:7861", "127.0.0.1:7862")
COOKIE = "trustlab_route"
PG_URL = os.environ.get("TRUSTLAB_TEST_PG_URL")


def test_readme_shows_the_tested_config():
    """The README's proxy config is deploy/nginx.conf, word for word (the file this module runs)."""
    assert TEMPLATE.read_text().strip() in README.read_text(), "paste deploy/nginx.conf into the README"






def render_site(template: str, *, listen_port: int, worker_ports: list[int]) -> str:
    """deploy/nginx.conf with the test's ports and no TLS; every replaced line must exist in the file, so
    the documented config and the tested one cannot drift apart."""
    replacements = {"    listen 443 ssl;\n": f"    listen 127.0.0.1:{listen_port};\n"}
    for line in template.splitlines(keepends=True):
        if line.strip().startswith("ssl_certificate"):
            replacements[line] = ""
    for documented, port in zip(DOCUMENTED_PORTS, worker_ports, strict=True):
        replacements[f"server {documented};"] = f"server 127.0.0.1:{port};"
    assert len(replacements) == 5, "deploy/nginx.conf changed: update this test's rendering"
    for old, new in replacements.items():
        assert old in template, f"deploy/nginx.conf no longer contains {old!r}"
        template = template.replace(old, new)
    return template


def nginx_conf(tmp: Path, site: str) -> str:
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {tmp}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                          "uwsgi", "scgi"))
    return f"""daemon off;
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format trustlab '$upstream_addr "$cookie_{COOKIE}" $status $request_method $uri';
    access_log {tmp}/access.log trustlab;
{temp}
{site}
}}
"""


@pytest.fixture
def deployment(settings, tmp_path):
    """(world, proxy URL, worker ports, access log): two workers behind nginx running the documented
    config. PostgreSQL is the deployment's database; without TRUSTLAB_TEST_PG_URL SQLite stands in."""
    if PG_URL and settings.database_url.startswith("sqlite"):
        pytest.skip("runs on PostgreSQL when TRUSTLAB_TEST_PG_URL is set (the multi-rater deployment)")
    world = build_world(settings)
    ports = [free_port(), free_port()]
    listen = free_port()
    run = tmp_path / "nginx"
    run.mkdir()
    site = render_site(TEMPLATE.read_text(), listen_port=listen, worker_ports=ports)
    (run / "nginx.conf").write_text(nginx_conf(run, site))
    test = subprocess.run([NGINX, "-t", "-p", str(run), "-c", str(run / "nginx.conf"), "-e",
                           str(run / "error.log")], capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    # One after the other: the first start creates the shared files under TRUSTLAB_HOME.
    workers = [start_worker(settings, port, tmp_path / f"worker-{port}.log") for port in ports]
    proxy = subprocess.Popen([NGINX, "-p", str(run), "-c", str(run / "nginx.conf"), "-e",
                              str(run / "error.log")], stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{listen}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proxy.poll() is None, proxy.stderr.read().decode()
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.2)
        yield world, base, ports, run / "access.log"
    finally:
        for proc in [proxy, *workers]:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def access_log(path: Path) -> list[tuple[str, str, int, str, str]]:
    """(upstream, route cookie, status, method, path) per request nginx logged; "" where nginx logs "-"
    (no cookie; no upstream because nginx answered itself)."""
    rows = []
    for line in path.read_text().splitlines():
        upstream, cookie, status, method, uri = line.split(" ")
        cookie = cookie.strip('"')
        rows.append(("" if upstream == "-" else upstream, "" if cookie == "-" else cookie, int(status),
                     method, uri))
    return rows


def progress_is(page, text: str) -> None:
    page.wait_for_function(
        "t => { const e = document.querySelector('.tl-progress-text');"
        " return e && e.textContent.trim() === t; }",
        arg=text, timeout=TIMEOUT_MS,
    )


def rate_all_items(browser, link: str, cookies: list[dict]) -> str:
    """Open ``link`` in a fresh browser profile, answer every item by keyboard (reloading once in the
    middle) and return the completion code."""
    context = browser.new_context()
    context.add_cookies(cookies)
    page = context.new_page()
    page.goto(link)
    progress_is(page, "0 / 3")
    for done in range(1, 4):
        for key in ("y", "1", "4", "Enter"):
            page.keyboard.press(key)
            page.wait_for_timeout(150)  # let Gradio register each choice before the next key
        if done < 3:
            progress_is(page, f"{done} / 3")
        if done == 1:  # a reload opens a new Gradio session: it must reach the same worker's state
            page.reload()
            progress_is(page, "1 / 3")
    page.wait_for_selector("#tl-completion-code", timeout=TIMEOUT_MS)
    code = page.text_content("#tl-completion-code").strip()
    context.close()
    return code


@pytest.mark.browser
@pytest.mark.slow  # two server processes, nginx and a browser
@pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (apt-get install nginx)")
@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
def test_raters_finish_through_nginx_with_two_workers(deployment):
    from playwright.sync_api import sync_playwright

    world, base, ports, log = deployment
    upstreams = {f"127.0.0.1:{port}" for port in ports}

    # The REST API is stateless and spread round-robin over both workers.
    for _ in range(4):
        assert httpx.get(f"{base}/api/v1/health").status_code == 200
    api_upstreams = {row[0] for row in access_log(log) if row[4] == "/api/v1/health"}
    assert api_upstreams == upstreams

    # Which worker the UI pins a browser to: by address on a first visit (and nginx hands out the cookie),
    # then by the cookie. Find a cookie value that lands on the other worker than this address does.
    first = httpx.get(f"{base}/")
    assert first.status_code == 200
    assert first.cookies.get(COOKIE) == "127.0.0.1"
    for k in range(40):
        httpx.get(f"{base}/", cookies={COOKIE: f"probe-{k}"})
    by_cookie = {cookie: upstream for upstream, cookie, _, _, uri in access_log(log) if uri == "/"}
    address_worker = by_cookie[""]
    other = next(cookie for cookie, upstream in by_cookie.items() if upstream not in ("", address_worker))
    assert address_worker in upstreams

    # nginx refuses an oversized body itself (client_max_body_size), before any worker sees it.
    big = httpx.post(f"{base}/gradio_api/upload", files={"files": ("big.png", b"x" * (7 * 1024 * 1024))})
    assert big.status_code == 413

    invites = world.invite("alpha", n=2)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            # Rater 1 arrives with no cookie (pinned by address); rater 2 carries the other worker's cookie.
            code_1 = rate_all_items(browser, f"{base}/?invite={invites[0]}&pid=NGINX-1", [])
            code_2 = rate_all_items(browser, f"{base}/?invite={invites[1]}&pid=NGINX-2",
                                    [{"name": COOKIE, "value": other, "url": base}])
        finally:
            browser.close()

    # Every UI request of each rater went to one worker, and the two raters used different workers.
    ui_workers = defaultdict(set)
    for upstream, cookie, _, _, uri in access_log(log):
        if uri.startswith("/gradio_api/") and upstream:
            ui_workers[cookie if cookie == other else "address"].add(upstream)
    assert ui_workers == {"address": {address_worker}, other: upstreams - {address_worker}}, ui_workers

    with unit_of_work(world.settings) as s:
        for pid, code in (("NGINX-1", code_1), ("NGINX-2", code_2)):
            rater = s.scalars(select(User).where(User.external_pid == pid)).one()
            assert rater.completion_code == code
            statuses = list(s.scalars(select(Assignment.status).where(Assignment.rater_id == rater.id)))
            assert statuses == ["done"] * 3
