"""Launch burst for bench_serve.py: many participants join within a window and rate with think time,
once through the REST API (the baseline) and once through the Gradio page's own events (serve_ui.py),
each against a fresh world and server; one table, and a check that nothing acknowledged was lost.

    python benchmarks/bench_serve.py --burst --participants 300 --join-window-s 60 --think-s 2 5

Per mode: participant i arrives at a seeded uniform-random time in [0, join window); it joins (REST:
accepts its invite; UI: opens the page with the link's query string, whose load event signs it in), then
rates every item, thinking a uniform-random 2-5 s before each submit. Measured: submit-to-next-item (REST:
POST judgement + GET next; UI: the Submit click's event until the next screen arrives, which includes the
wait in Gradio's queue), joins/s (joined participants over the first arrival to the last join), join
latency, and for the UI the queue wait of every submit (join POST sent -> ``process_starts``).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from serve_deploy import Deployment
from serve_pg import ThrowawaySchema
from serve_ui import PageError, PageEvents, PageSession, Screen, answer_values
from serve_world import build_study

from trustlab.config import Settings, load_settings
from trustlab.db.engine import dispose_engines, read_session
from trustlab.db.queries.judgements import count_judgements

MODES = ("rest", "ui")
REQUEST_PREFIX = {"rest": "/api/v1/", "ui": "/gradio_api/"}  # each mode's requests, counted per worker
REQUEST_TIMEOUT_S = 60
MAX_TRIES = 5
RETRY_SLEEP_S = 0.5
TARGET_P95_MS = 300.0


@dataclass
class BurstTally:
    """What one mode's participants saw (threads append under the lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    join_started: list[float] = field(default_factory=list)
    join_done: list[float] = field(default_factory=list)
    join_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    queue_wait_ms: list[float] = field(default_factory=list)
    acknowledged: int = 0
    queue_size: int = 0  # the largest queue (events) Gradio reported
    finished: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, **values) -> None:
        with self.lock:
            for name, value in values.items():
                getattr(self, name).append(value)

    def queued(self, size: int) -> None:
        with self.lock:
            self.queue_size = max(self.queue_size, size)

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


def _think(rng: np.random.Generator, think_s: tuple[float, float]) -> None:
    time.sleep(float(rng.uniform(*think_s)))


def _tries(tally: BurstTally, call: Callable):
    """Retry a lost connection, a 5xx or a full queue (the browser's user would click again)."""
    for attempt in range(MAX_TRIES):
        try:
            return call()
        except (httpx.TransportError, PageError) as exc:
            if attempt == MAX_TRIES - 1 or (isinstance(exc, PageError) and not exc.retry):
                raise
            tally.count("retries")
            time.sleep(RETRY_SLEEP_S * (attempt + 1))


def link_params(study: str, i: int) -> dict[str, str]:
    """The public link's query string for participant ``i`` (Prolific's placeholders filled in)."""
    return {"study": study, "PROLIFIC_PID": f"bench{i:06d}", "STUDY_ID": "burst", "SESSION_ID": f"s{i}"}


def rest_join(client: httpx.Client, study: str, join: dict[str, str]) -> httpx.Response:
    """A single-use invite (``{"invite": token}``) or the public link's join of a link study."""
    if "invite" in join:
        return client.post("/api/v1/invites/accept", json={"invite": join["invite"]})
    body = {"pid": join["PROLIFIC_PID"], "params": {k: v for k, v in join.items() if k != "study"},
            "consent": True}
    return client.post(f"/api/v1/studies/{study}/join", json=body)


def rest_participant(base_url: str, study: str, join: dict[str, str], tally: BurstTally, seed: int,
                     think_s: tuple[float, float], cookies: dict[str, str] | None = None) -> None:
    rng = np.random.default_rng(seed)
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S, cookies=cookies) as client:
        t0 = time.perf_counter()
        tally.add(join_started=t0)
        accepted = rest_join(client, study, join).raise_for_status()
        headers = {"Authorization": f"Bearer {accepted.json()['token']}"}

        def fetch_next():
            got = client.get(f"/api/v1/studies/{study}/next", headers=headers)
            if got.status_code >= 500:
                raise PageError(f"next answered {got.status_code}", retry=True)
            return got.raise_for_status()

        got = _tries(tally, fetch_next)
        done = time.perf_counter()
        tally.add(join_done=done, join_ms=(done - t0) * 1000.0)
        while got.status_code != 204:
            item = got.json()
            questions = {q["key"]: q for q in item["questions"]}
            answers = {
                "model_correct": bool(rng.random() < 0.5),
                "true_label": str(rng.choice(questions["true_label"]["options"])),
                "trust": int(rng.integers(1, questions["trust"]["max"] + 1)),
            }
            _think(rng, think_s)
            body = {"assignment_id": item["assignment_id"], "answers": answers,
                    "idempotency_key": f"burst-{seed}-{item['assignment_id']}"}
            t0 = time.perf_counter()

            def send(body=body):
                sent = client.post("/api/v1/judgements", json=body, headers=headers)
                if sent.status_code >= 500:
                    raise PageError(f"submit answered {sent.status_code}", retry=True)
                return sent.raise_for_status()

            _tries(tally, send)
            tally.count("acknowledged")
            got = _tries(tally, fetch_next)
            tally.add(submit_ms=(time.perf_counter() - t0) * 1000.0)
        tally.count("finished")


def ui_participant(base_url: str, page: PageEvents, params: dict[str, str], tally: BurstTally, seed: int,
                   think_s: tuple[float, float], cookies: dict[str, str] | None = None) -> None:
    rng = np.random.default_rng(seed)
    session = PageSession(base_url, page, timeout_s=REQUEST_TIMEOUT_S, cookies=cookies)
    try:
        t0 = time.perf_counter()
        tally.add(join_started=t0)
        session.open_page(params)
        screen, timing = _tries(tally, lambda: session.load(params))
        done = time.perf_counter()
        tally.add(join_done=done, join_ms=(done - t0) * 1000.0, queue_wait_ms=timing.queue_wait_s * 1000.0)
        tally.queued(timing.queue_size)
        while screen.kind == "item":
            values = answer_values(page, screen, rng)
            _think(rng, think_s)
            shown: Screen = screen
            screen, timing = _tries(tally, lambda values=values: session.submit(values))
            if screen.not_saved or (screen.kind == "item" and screen.assignment_id == shown.assignment_id):
                raise PageError(f"submit not saved: {screen.message or screen.notice}"[:300])
            tally.count("acknowledged")
            tally.add(submit_ms=timing.total_s * 1000.0, queue_wait_ms=timing.queue_wait_s * 1000.0)
            tally.queued(timing.queue_size)
        if screen.kind != "done":
            raise PageError(f"the page shows a notice, not an item: {screen.notice[:200]}")
        tally.count("finished")
    finally:
        session.close()


def _guarded(tally: BurstTally, target: Callable, *args) -> None:
    try:
        target(*args)
    except Exception as exc:  # one participant's failure is a result, not the end of the run
        with tally.lock:
            tally.errors.append(f"{type(exc).__name__}: {exc}"[:300])


def run_mode(mode: str, args) -> dict:
    """One mode against a fresh world (a fresh PostgreSQL schema with ``args.db_url``) and fresh servers
    (``args.workers``, behind nginx when more than one); returns the row of the table."""
    home = Path(tempfile.mkdtemp(prefix=f"trustlab-bench-burst-{mode}-"))
    schema = ThrowawaySchema(args.db_url) if getattr(args, "db_url", "") else None
    try:
        settings = load_settings(home=home, db_url=schema.url if schema else "")
        row = _run_world(mode, args, settings, home, schema)
    finally:
        if schema is not None:
            dispose_engines()
            schema.drop()
    return row


def _run_world(mode: str, args, settings: Settings, home: Path, schema: ThrowawaySchema | None) -> dict:
    from trustlab.platform.accounts.invites import create_invites

    link = args.join == "link"
    study = build_study(settings, raters=args.participants, items_per_rater=args.items, link=link)
    if link:
        joins = [link_params(study, i) for i in range(args.participants)]
    else:
        links = create_invites(settings, study=study, n=args.participants, simulated=True)
        joins = [{"invite": link.token} for link in links]
    deployment = Deployment(settings, workers=getattr(args, "workers", 1), run=home / "serve", schema=schema)
    deployment.start()
    cpu_at_start = deployment.cpu()
    tally = BurstTally()
    rng = np.random.default_rng(1)
    arrivals = np.sort(rng.uniform(0.0, args.join_window_s, size=args.participants))
    think_s = (float(args.think_s[0]), float(args.think_s[1]))
    try:
        page = None
        if mode == "ui":
            with httpx.Client(base_url=deployment.url, timeout=REQUEST_TIMEOUT_S) as client:
                page = PageEvents.read(client)
        threads = []
        client_cpu_at_start = time.process_time()
        t_start = time.perf_counter()
        for i, (join, at) in enumerate(zip(joins, arrivals, strict=True)):
            time.sleep(max(0.0, t_start + at - time.perf_counter()))
            cookies = deployment.route_cookies(i)
            if mode == "ui":
                work = (ui_participant, deployment.url, page, join, tally, i, think_s, cookies)
            else:
                work = (rest_participant, deployment.url, study, join, tally, i, think_s, cookies)
            thread = threading.Thread(target=_guarded, args=(tally, *work), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - t_start
        cpu = deployment.cpu().since(cpu_at_start)
        cpu["client"] = time.process_time() - client_cpu_at_start
        per_worker = deployment.requests_per_worker(REQUEST_PREFIX[mode])
    finally:
        deployment.stop()
    row = _row(mode, settings, tally, wall, cpu, args)
    row["requests_per_worker"] = per_worker
    row["logs"] = str(deployment.run)
    row["db"] = "postgresql" if schema is not None else "sqlite"
    return row


def stored_count(settings: Settings) -> int:
    dispose_engines()  # the server wrote them; read them fresh
    with read_session(settings) as s:
        return count_judgements(s)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _row(mode: str, settings: Settings, tally: BurstTally, wall: float, cpu: dict[str, float],
         args) -> dict:
    stored = stored_count(settings)
    joined = len(tally.join_done)
    join_span = (max(tally.join_done) - min(tally.join_started)) if joined else float("nan")
    return {
        "mode": mode,
        "joined": joined,
        "joins_s": joined / join_span if joined else 0.0,
        "join_p95": _pct(tally.join_ms, 95),
        "submits": len(tally.submit_ms),
        "p50": _pct(tally.submit_ms, 50),
        "p95": _pct(tally.submit_ms, 95),
        "p99": _pct(tally.submit_ms, 99),
        "wait50": _pct(tally.queue_wait_ms, 50) if mode == "ui" else None,
        "wait95": _pct(tally.queue_wait_ms, 95) if mode == "ui" else None,
        "wait99": _pct(tally.queue_wait_ms, 99) if mode == "ui" else None,
        "acked": tally.acknowledged,
        "stored": stored,
        "finished": tally.finished,
        "planned": args.participants * args.items,
        "retries": tally.retries,
        "queue_size": tally.queue_size,
        "errors": tally.errors,
        "wall": wall,
        "workers": getattr(args, "workers", 1),
        # The server side's CPU time (joins, page loads and submits: every worker, nginx and the database
        # backends) per acknowledged submit, and the benchmark client's own (it shares the machine).
        "cpu_ms": sum(v for k, v in cpu.items() if k != "client") * 1000.0 / max(tally.acknowledged, 1),
        "cpu_parts_ms": {k: v * 1000.0 / max(tally.acknowledged, 1) for k, v in cpu.items()},
        "client_ms": cpu["client"] * 1000.0 / max(tally.acknowledged, 1),
    }


def print_table(rows: list[dict], args) -> bool:
    """One table, REST first (the baseline); True when every mode lost nothing and met its plan."""
    db = rows[0].get("db", "sqlite") if rows else "sqlite"
    db_kind = "PostgreSQL (a fresh schema per mode)" if db == "postgresql" else "SQLite (one WAL file)"
    print(f"\nlaunch burst: {args.participants} participants joining ({args.join}) within "
          f"{args.join_window_s:.0f} s, "
          f"{args.items} items each, think {args.think_s[0]:g}-{args.think_s[1]:g} s; database {db_kind}")
    head = (f"{'mode':<6}{'workers':>8}{'joined':>7}{'joins/s':>8}{'join p95':>9}{'submits':>8}{'p50 ms':>8}"
            f"{'p95 ms':>8}{'p99 ms':>8}{'queue p50/p95/p99 ms':>22}{'acked':>7}{'in db':>7}{'errors':>7}"
            f"{'cpu ms/sub':>11}{'client ms/sub':>14}")
    print(head)
    ok = True
    for r in rows:
        wait = "-" if r["wait50"] is None else f"{r['wait50']:.0f}/{r['wait95']:.0f}/{r['wait99']:.0f}"
        client_ms = r.get("client_ms", float("nan"))
        print(f"{r['mode']:<6}{r.get('workers', 1):>8}{r['joined']:>7}{r['joins_s']:>8.1f}"
              f"{r['join_p95']:>9.0f}{r['submits']:>8}{r['p50']:>8.0f}{r['p95']:>8.0f}{r['p99']:>8.0f}"
              f"{wait:>22}{r['acked']:>7}{r['stored']:>7}{len(r['errors']):>7}{r['cpu_ms']:>11.1f}"
              f"{client_ms:>14.1f}")
        ok &= r["acked"] == r["stored"] == r["planned"] and not r["errors"]
    for r in rows:
        for error in r["errors"][:5]:
            print(f"  {r['mode']} error: {error}")
        if r["errors"] and r.get("logs"):
            print(f"  {r['mode']}: the servers' stderr (tracebacks) is under {r['logs']}")
        if r["retries"]:
            print(f"  {r['mode']}: {r['retries']} retried requests")
        if r["mode"] == "ui":
            print(f"  ui: at most {r['queue_size']} events waited in Gradio's queue at once (per worker)")
        if r.get("requests_per_worker"):
            print(f"  {r['mode']}: requests under {REQUEST_PREFIX[r['mode']]} per worker "
                  f"{r['requests_per_worker']} (nginx's access log)")
    _print_footer(rows, db)
    ui = next((r for r in rows if r["mode"] == "ui"), None)
    if ui is not None:
        verdict = "meets" if ui["p95"] <= TARGET_P95_MS else "misses"
        print(f"UI p95 submit-to-next-item {ui['p95']:.0f} ms: {verdict} the {TARGET_P95_MS:.0f} ms target")
    print("RESULT:", "OK, nothing lost (judgements in the database == acknowledged submits == planned)"
          if ok else "FAILED")
    return ok


def _print_footer(rows: list[dict], db: str) -> None:
    """What the CPU columns count, and how the workers were reached."""
    for r in rows:
        parts = {"workers": "the workers"}
        if r.get("workers", 1) > 1:
            parts["nginx"] = "nginx"
        if db == "postgresql":
            parts["db"] = "PostgreSQL backends"
        got = r.get("cpu_parts_ms", {})
        if len(parts) > 1 and got:
            split = " + ".join(f"{name} {got[key]:.1f}" for key, name in parts.items())
            print(f"  {r['mode']}: cpu ms/sub = {split}")
    proxied = any(r.get("workers", 1) > 1 for r in rows)
    print("cpu ms/sub: the server side's CPU time per acknowledged submit (joins and page loads included): "
          + ("every worker + nginx" if proxied else "the one server process")
          + (" + the PostgreSQL backends (read every second: one that closed midway keeps its last reading)"
             if db == "postgresql" else " (SQLite's work is inside the server processes)")
          + "; client ms/sub: the benchmark's own CPU (it shares the machine's cores with the server)")
    if proxied:
        print("workers > 1: N `trustlab serve` processes on one home and database behind nginx running "
              "deploy/nginx.conf; every participant carries its own trustlab_route cookie from its first "
              "request (as distinct client addresses would get; all come from 127.0.0.1)")


def run_burst(args) -> int:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        raise SystemExit(f"--modes: unknown {sorted(unknown)}; choose from {', '.join(MODES)}")
    if args.db_url and not args.db_url.startswith("postgresql"):
        raise SystemExit("--burst --db-url: give a postgresql+psycopg://... URL (default: SQLite)")
    if getattr(args, "workers", 1) < 1:
        raise SystemExit(f"--workers: at least 1, not {args.workers}")
    rows = [run_mode(mode, args) for mode in modes]
    return 0 if print_table(rows, args) else 1
