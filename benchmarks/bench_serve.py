"""Serving speed and durability of the rater API against a real server on loopback.

    python benchmarks/bench_serve.py --raters 50 --items 20 [--db-url postgresql+psycopg://...]
    python benchmarks/bench_serve.py --raters 50 --items 20 --crash
    python benchmarks/bench_serve.py --raters 10 --items 10 --think-ms 0 --compare-synchronous 5
    python benchmarks/bench_serve.py --burst --participants 300 --join-window-s 60 --think-s 2 5
    python benchmarks/bench_serve.py --burst --modes ui --join link --workers 2 [--db-url postgresql+psycopg://...]

Builds a throw-away TRUSTLAB_HOME (a dataset of small PNGs, a model's predictions, precomputed
Grad-CAM and twin explanations, an open study with conditions none/gradcam/twin, one invite per
rater), starts `python -m trustlab serve` as a subprocess, and runs simulated raters (threads with
httpx): each accepts its invite and loops next -> submit until the API answers 204.

Prints p50/p95/p99 of one next+submit pair (ms) and judgements/s, with ratios against a baseline
measured in the same run (one rater alone, no concurrency), then checks that the judgements in the
database are exactly the acknowledged ones.

``--crash``: SIGKILLs the server when about half the judgements are acknowledged, restarts it, lets
the raters carry on (they retry unacknowledged submissions with the same idempotency key), and
shows that every acknowledged judgement is in the database (and none is stored twice).

``--compare-synchronous N``: the cost of SQLite's synchronous=FULL (the default: every commit is
synced to disk, so an acknowledged answer survives a power cut) against NORMAL. N rounds, each a
fresh home and server per mode, the modes' order alternating between rounds; prints the median
[min-max] over rounds of p50/p95 of next+submit and of judgements/s.

``--burst``: a study's launch (serve_burst.py): ``--participants`` join within ``--join-window-s`` and
rate with ``--think-s LOW HIGH`` seconds of reading per item, through the REST API (the baseline) and
through the Gradio page's own events (``--modes rest,ui``); one table of submit-to-next-item
p50/p95/p99, joins/s and Gradio queue waits, then judgements in the database == acknowledged submits.
``--workers N`` runs N servers on one home and database behind a real nginx (serve_deploy.py), each
participant with its own ``trustlab_route`` cookie; ``--db-url postgresql+psycopg://...`` runs the burst on
a fresh schema of that database per mode (default: SQLite).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serve_burst import run_burst  # noqa: E402 - benchmarks/ is on sys.path as the script's folder
from serve_pg import throwaway_schema  # noqa: E402
from serve_server import Server  # noqa: E402
from serve_world import build_study  # noqa: E402

from trustlab.config import Settings, load_settings  # noqa: E402
from trustlab.db.engine import dispose_engines, unit_of_work  # noqa: E402

RETRY_SLEEP_S = 0.2
REQUEST_TIMEOUT_S = 30
TARGET_P95_MS = 100.0
# A rater reads the screen before answering; 1.5 s per item is a fast rater (real ones take 5-20 s).
DEFAULT_THINK_MS = 1500.0
# Raters arrive over a few seconds (an invite e-mail is not clicked by everyone in the same ms).
DEFAULT_RAMP_S = 5.0


class Tally:
    """What the raters saw, shared by their threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pair_ms: list[float] = []
        self.acknowledged: dict[str, int] = {}  # idempotency key -> judgement id
        self.errors = 0
        self.retries = 0

    def ack(self, key: str, judgement_id: int, pair_ms: float | None) -> None:
        with self.lock:
            previous = self.acknowledged.setdefault(key, judgement_id)
            assert previous == judgement_id, "one key acknowledged with two ids"
            if pair_ms is not None:
                self.pair_ms.append(pair_ms)


def rate(
    base_url: str,
    invite: str,
    study: str,
    tally: Tally,
    rng_seed: int,
    think_ms: float,
    start_delay_s: float = 0.0,
) -> None:
    """One simulated rater: accept the invite, then next + submit until finished. Connection errors
    (a killed server) are retried with the same idempotency key until acknowledged."""
    rng = np.random.default_rng(rng_seed)
    time.sleep(start_delay_s)
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        token = _retry(tally, lambda: client.post("/api/v1/invites/accept", json={"invite": invite}))
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        while True:
            t0 = time.perf_counter()
            got = _retry(tally, lambda: client.get(f"/api/v1/studies/{study}/next", headers=headers))
            if got.status_code == 204:
                return
            payload = got.json()
            questions = {q["key"]: q for q in payload["questions"]}
            answers = {
                "model_correct": bool(rng.random() < 0.5),
                "true_label": str(rng.choice(questions["true_label"]["options"])),
                "trust": int(rng.integers(1, questions["trust"]["max"] + 1)),
            }
            if think_ms > 0:  # reading time, uniform in [0.5, 1.5] x think_ms, not counted in latency
                pause = think_ms * rng.uniform(0.5, 1.5) / 1000.0
                time.sleep(pause)
                t0 += pause
            key = uuid.uuid4().hex
            body = {"assignment_id": payload["assignment_id"], "answers": answers, "idempotency_key": key}
            sent = _retry(
                tally, lambda body=body: client.post("/api/v1/judgements", json=body, headers=headers)
            )
            if sent.status_code not in (200, 201):
                with tally.lock:
                    tally.errors += 1
                raise RuntimeError(f"judgement refused: {sent.status_code} {sent.text}")
            tally.ack(key, sent.json()["judgement_id"], (time.perf_counter() - t0) * 1000.0)


def _retry(tally: Tally, call):
    while True:
        try:
            response = call()
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code < 500:
            return response
        with tally.lock:
            tally.retries += 1
        time.sleep(RETRY_SLEEP_S)


def run_raters(
    base_url: str, invites: list[str], study: str, tally: Tally, think_ms: float, ramp_s: float = 0.0
) -> float:
    """Run one thread per invite; rater i starts at i/n * ramp_s seconds (arrivals spread out)."""
    threads = [
        threading.Thread(
            target=rate, args=(base_url, inv, study, tally, i, think_ms, ramp_s * i / len(invites))
        )
        for i, inv in enumerate(invites)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def stored_judgements(settings: Settings) -> dict[str, int]:
    from sqlalchemy import select

    from trustlab.db.schema import Judgement

    dispose_engines()  # the server wrote them; read them fresh
    with unit_of_work(settings) as s:
        return {key: jid for key, jid in s.execute(select(Judgement.idempotency_key, Judgement.id))}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def parse_args() -> argparse.Namespace:
    """The command line: the steady-state run's options, then the launch burst's."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--items", type=int, default=20, help="items per rater")
    parser.add_argument("--db-url", default="", help="PostgreSQL URL (default: SQLite under a temp home)")
    parser.add_argument("--crash", action="store_true", help="SIGKILL the server mid-load and restart it")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=DEFAULT_THINK_MS,
        help="mean reading time per item before submitting (0: back-to-back requests)",
    )
    parser.add_argument(
        "--ramp-s",
        type=float,
        default=DEFAULT_RAMP_S,
        help="raters arrive evenly over this many seconds (0: all at once)",
    )
    parser.add_argument("--compare-synchronous", type=int, default=0, metavar="N",
                        help="SQLite only: N interleaved rounds of synchronous=NORMAL vs FULL")
    burst = parser.add_argument_group("launch burst (--burst)")
    burst.add_argument("--burst", action="store_true", help="participants join within a window; REST vs UI")
    burst.add_argument("--participants", type=int, default=300)
    burst.add_argument("--join-window-s", type=float, default=60.0)
    burst.add_argument("--think-s", type=float, nargs=2, default=(2.0, 5.0), metavar=("LOW", "HIGH"))
    burst.add_argument("--modes", default="rest,ui", help="rest, ui or rest,ui (REST is the baseline)")
    burst.add_argument("--join", choices=("invite", "link"), default="invite",
                       help="single-use invites, or one public link with participant ids")
    burst.add_argument("--workers", type=int, default=1,
                       help="`trustlab serve` processes on one database; more than 1: behind nginx running "
                            "deploy/nginx.conf (/usr/sbin/nginx)")
    return parser.parse_args()


def prepare_world(args: argparse.Namespace) -> tuple[Settings, str, list[str], Callable[[], None] | None]:
    """A fresh home (and PostgreSQL schema when asked), the study, and one invite per rater plus one.

    Returns the settings, the study's name, the invite tokens (the first is the baseline rater's) and
    the function that drops the throwaway schema (None on SQLite).
    """
    from trustlab.platform.accounts.invites import create_invites

    home = Path(tempfile.mkdtemp(prefix="trustlab-bench-serve-"))
    db_url, drop_schema = throwaway_schema(args.db_url) if args.db_url else ("", None)
    settings = load_settings(home=home, db_url=db_url)
    t0 = time.monotonic()
    study = build_study(settings, raters=args.raters + 1, items_per_rater=args.items)
    links = create_invites(settings, study=study, n=args.raters + 1, simulated=True)
    print(
        f"setup: {time.monotonic() - t0:.1f} s, home {home}, db {'postgresql' if args.db_url else 'sqlite'}"
    )
    return settings, study, [link.token for link in links], drop_schema


def load_server(
    server: Server, study: str, invites: list[str], args: argparse.Namespace
) -> tuple[Tally, Tally, float]:
    """One rater alone (the baseline), then every other rater at once; with ``--crash`` the server is
    killed halfway and restarted. Returns the baseline's tally, the load's tally and its wall time."""
    baseline = Tally()
    run_raters(server.url, invites[:1], study, baseline, 0.0)
    tally = Tally()
    killer = None
    if args.crash:
        expected = args.raters * args.items
        killer = threading.Thread(target=_crash_midway, args=(server, tally, expected // 2))
        killer.start()
    wall = run_raters(server.url, invites[1:], study, tally, args.think_ms, args.ramp_s)
    if killer is not None:
        killer.join()
    return baseline, tally, wall


def main() -> int:
    args = parse_args()
    if args.burst:
        return run_burst(args)
    if args.compare_synchronous:
        return compare_synchronous(args)
    settings, study, invites, drop_schema = prepare_world(args)
    server = Server(settings)
    print(f"server answered {server.start():.1f} s after start")
    try:
        baseline, tally, wall = load_server(server, study, invites, args)
    finally:
        server.stop()
    try:
        return _check(settings, baseline, tally, wall, args)
    finally:
        if drop_schema is not None:
            dispose_engines()
            drop_schema()


SYNCHRONOUS_MODES = ("NORMAL", "FULL")


def compare_synchronous(args) -> int:
    """``--compare-synchronous``: interleaved runs per SQLite synchronous mode; 0 if nothing was lost."""
    from trustlab.platform.accounts.invites import create_invites

    if args.db_url or args.crash:
        raise SystemExit("--compare-synchronous measures SQLite: drop --db-url and --crash")
    results: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in SYNCHRONOUS_MODES}
    failures = 0  # rounds that lost an acknowledged answer or had a refused one
    for round_no in range(args.compare_synchronous):
        order = SYNCHRONOUS_MODES if round_no % 2 == 0 else SYNCHRONOUS_MODES[::-1]
        for mode in order:
            home = Path(tempfile.mkdtemp(prefix=f"trustlab-bench-sync-{mode.lower()}-"))
            url = load_settings(home=home, db_url="").database_url + f"?synchronous={mode}"
            settings = load_settings(home=home, db_url=url)
            study = build_study(settings, raters=args.raters + 1, items_per_rater=args.items)
            links = create_invites(settings, study=study, n=args.raters, simulated=True)
            invites = [link.token for link in links]
            server = Server(settings)
            server.start()
            try:
                tally = Tally()
                wall = run_raters(server.url, invites, study, tally, args.think_ms, args.ramp_s)
            finally:
                server.stop()
            stored = stored_judgements(settings)
            lost = {k for k, jid in tally.acknowledged.items() if stored.get(k) != jid}
            failures += bool(lost) or tally.errors > 0
            row = (pct(tally.pair_ms, 50), pct(tally.pair_ms, 95), len(tally.pair_ms) / wall)
            results[mode].append(row)
            print(f"round {round_no + 1} {mode}: p50 {row[0]:.1f}, p95 {row[1]:.1f} ms, {row[2]:.1f} judg/s")
    print(f"\n{args.raters} raters x {args.items} items, think {args.think_ms:.0f} ms, "
          f"{args.compare_synchronous} interleaved rounds: median [min-max]")
    print(f"{'synchronous':<13}{'p50 ms':>24}{'p95 ms':>24}{'judg/s':>24}")
    for mode, rows in results.items():
        cells = [f"{np.median(c):.1f} [{min(c):.1f}-{max(c):.1f}]" for c in zip(*rows, strict=True)]
        print(f"{mode:<13}" + "".join(f"{c:>24}" for c in cells))
    full, normal = (np.median([r[2] for r in results[m]]) for m in ("FULL", "NORMAL"))
    print(f"FULL / NORMAL throughput (medians): {full / normal:.2f}")
    print("RESULT:", "OK, nothing lost" if not failures else "FAILED")
    return 0 if not failures else 1


def _check(settings: Settings, baseline: Tally, tally: Tally, wall: float, args) -> int:
    expected = args.raters * args.items
    _report(baseline, tally, wall, args)
    stored = stored_judgements(settings)
    acknowledged = {**baseline.acknowledged, **tally.acknowledged}
    missing = {k for k, jid in acknowledged.items() if stored.get(k) != jid}
    extra = set(stored) - set(acknowledged)
    print(
        f"\njudgements acknowledged: {len(acknowledged)}   in database: {len(stored)}   "
        f"acknowledged but missing: {len(missing)}   stored but never acknowledged: {len(extra)}"
    )
    print(f"raters' judgements: {len(tally.acknowledged)} of {expected} planned")
    ok = not missing and not extra and len(tally.acknowledged) == expected
    print("RESULT:", "OK, nothing lost" if ok else "FAILED")
    return 0 if ok else 1


def _crash_midway(server: Server, tally: Tally, after: int) -> None:
    while len(tally.acknowledged) < after:
        time.sleep(0.01)
    killed_at = len(tally.acknowledged)
    server.kill()
    print(f"SIGKILL after {killed_at} acknowledged judgements")
    print(f"server restarted, answering after {server.start():.1f} s")


def _report(baseline: Tally, tally: Tally, wall: float, args) -> None:
    base_p50 = pct(baseline.pair_ms, 50)
    rows = [
        ("1 rater alone (baseline)", baseline.pair_ms, None),
        (f"{args.raters} raters (think {args.think_ms:.0f} ms)", tally.pair_ms, wall),
    ]
    print(
        f"\n{'run':<34}{'pairs':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'p95/base p50':>14}{'judg/s':>9}"
    )
    for name, values, seconds in rows:
        rate_s = f"{len(values) / seconds:.0f}" if seconds else "-"
        print(
            f"{name:<34}{len(values):>7}{pct(values, 50):>9.1f}{pct(values, 95):>9.1f}{pct(values, 99):>9.1f}"
            f"{pct(values, 95) / base_p50:>14.1f}{rate_s:>9}"
        )
    p95 = pct(tally.pair_ms, 95)
    verdict = "meets" if p95 < TARGET_P95_MS else "misses"
    print(
        f"p95 of next+submit under load: {p95:.1f} ms ({verdict} the {TARGET_P95_MS:.0f} ms target"
        f"{'; includes the crash and restart' if args.crash else ''}); retries {tally.retries}, "
        f"errors {tally.errors}"
    )


if __name__ == "__main__":
    sys.exit(main())
