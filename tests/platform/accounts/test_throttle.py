"""Sign-in throttling per user name and per client address, and the scrypt gate."""

from __future__ import annotations

import pytest

from trustlab.platform.accounts import auth
from trustlab.platform.accounts.throttle import MAX_FAILURES, LoginThrottle
from trustlab.platform.errors import NotAuthenticated, ServerBusy, TooManyRequests

PASSWORD = "correct-horse-1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_counts_a_sliding_window_per_name_and_per_address():
    clock = Clock()
    throttle = LoginThrottle(limit=3, window_s=60, clock=clock)
    for _ in range(3):
        throttle.check("alice", "10.0.0.1")
        throttle.failure("alice", "10.0.0.1")
        clock.now += 10
    with pytest.raises(TooManyRequests) as locked:
        throttle.check("alice", "10.0.0.9")  # the name is locked from any address
    assert locked.value.status == 429 and locked.value.retry_after == 30  # oldest failure leaves at 1060
    with pytest.raises(TooManyRequests):
        throttle.check("bob", "10.0.0.1")  # and the address for any name
    throttle.check("bob", "10.0.0.2")
    clock.now += 30  # the first failure left the window: one more try each
    throttle.check("alice", "10.0.0.1")
    throttle.success("alice", "10.0.0.1")  # clears the name, not the address
    clock.now -= 1
    throttle.check("alice", None)
    with pytest.raises(TooManyRequests):
        throttle.check("carol", "10.0.0.1")


def test_login_is_refused_after_ten_failures_per_name_or_address(sqlite_settings):
    auth.create_user(sqlite_settings, username="alice", role="researcher", password=PASSWORD)
    auth.create_user(sqlite_settings, username="bob", role="curator", password=PASSWORD)
    throttle = LoginThrottle()

    def login(name, password, address):
        return auth.login(sqlite_settings, username=name, password=password, address=address,
                          throttle=throttle)

    for k in range(MAX_FAILURES):
        with pytest.raises(NotAuthenticated):
            login("alice", "wrong", f"10.0.0.{k}")
    # the right password from a fresh address does not get through a locked name
    with pytest.raises(TooManyRequests):
        login("alice", PASSWORD, "10.9.9.9")
    # one address guessing at many names is locked too, and a success for another name does not unlock it
    for k in range(MAX_FAILURES - 1):
        with pytest.raises(NotAuthenticated):
            login(f"user{k}", "x", "10.1.1.1")
    assert login("bob", PASSWORD, "10.1.1.1").role == "curator"
    with pytest.raises(NotAuthenticated):
        login("user-last", "x", "10.1.1.1")
    with pytest.raises(TooManyRequests):
        login("bob", PASSWORD, "10.1.1.1")


def test_api_login_answers_429_with_retry_after(world, client):
    auth.create_user(world.settings, username="alice", role="researcher", password=PASSWORD)
    for _ in range(MAX_FAILURES):
        assert client.post("/api/v1/login", json={"username": "alice", "password": "nope"}).status_code == 401
    refused = client.post("/api/v1/login", json={"username": "alice", "password": PASSWORD})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "too many failed sign-ins" in refused.json()["detail"]


def test_staff_sign_in_form_is_throttled_with_a_clear_message(sqlite_settings):
    import gradio as gr

    from trustlab.platform.services.rater import Services
    from trustlab.platform.ui.staff.signin import do_login

    auth.create_user(sqlite_settings, username="rita", role="researcher", password=PASSWORD)
    services = Services(sqlite_settings)
    request = gr.Request(client={"host": "203.0.113.7", "port": 4000})
    for _ in range(MAX_FAILURES):
        state, text = do_login(services, "rita", "guess", request)
        assert state == {} and "wrong user name or password" in text
    state, text = do_login(services, "rita", PASSWORD, request)
    assert state == {}
    assert "Sign-in refused" in text and "too many failed sign-ins" in text and "seconds" in text
    # another visitor, another name: not affected by this address's lockout
    auth.create_user(sqlite_settings, username="carl", role="curator", password=PASSWORD)
    state, text = do_login(services, "carl", PASSWORD, gr.Request(client={"host": "198.51.100.1", "port": 1}))
    assert state["role"] == "curator"


def test_a_flood_of_sign_ins_waits_for_scrypt_slots_while_raters_go_on(world, client, monkeypatch):
    auth.create_user(world.settings, username="alice", role="researcher", password=PASSWORD)
    invite = world.invite("alpha")[0]
    token = client.post("/api/v1/invites/accept", json={"invite": invite}).json()["token"]
    rater = {"Authorization": f"Bearer {token}"}
    stored = auth.hash_password(PASSWORD)
    monkeypatch.setattr(auth, "SCRYPT_WAIT_S", 0.2)
    held = 0
    while auth.SCRYPT_GATE.acquire(blocking=False):  # every slot busy, as under a flood
        held += 1
    try:
        assert held == auth.SCRYPT_SLOTS
        with pytest.raises(ServerBusy):
            auth.verify_password(PASSWORD, stored)
        with pytest.raises(ServerBusy):
            auth.hash_password(PASSWORD)
        busy = client.post("/api/v1/login", json={"username": "alice", "password": PASSWORD})
        assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
        assert client.get("/api/v1/me", headers=rater).status_code == 200  # tokens need no scrypt
    finally:
        for _ in range(held):
            auth.SCRYPT_GATE.release()
    assert client.post("/api/v1/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
