"""Accounts through the real app on SQLite and PostgreSQL: registration, the OAuth2 password
flow, refresh rotation and reuse detection, sign-out, API keys, roles, plans and throttling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.db.models import LoginFailure, User
from core.db.session import session_scope
from core.settings import Settings
from serving.app import create_app
from tests.account_helpers import PASSWORD, make_admin, register, sign_in


@pytest.fixture
def client(data_root: Path, database_url: str) -> Iterator[TestClient]:
    settings = Settings(
        data_root=data_root,
        database_url=database_url,
        admin_token="operator-token",
        login_max_failures=3,
    )
    yield TestClient(create_app(settings))


def test_register_sign_in_and_me(client: TestClient, database_url: str) -> None:
    user_id = register(client, "ada", role="creator")
    headers = sign_in(client, "ada")
    me = client.get("/me", headers=headers)
    assert me.status_code == 200
    body = me.json()
    assert body["id"] == user_id and body["role"] == "creator"
    assert body["plan"] == {"name": "free", "premium": False, "device_limit": 1}
    assert [c["name"] for c in body["channels"]] == ["ada"]
    with session_scope(database_url) as session:
        stored = session.scalars(select(User).where(User.username == "ada")).one()
        assert stored.password_hash is not None
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": "ab", "password": PASSWORD}, 422),
        ({"username": "a b c", "password": PASSWORD}, 422),
        ({"username": "bob", "password": "short"}, 422),
        ({"username": "bob", "password": "x" * 129}, 422),
        ({"username": "bob", "password": PASSWORD, "role": "admin"}, 422),
        ({"username": "bob", "password": PASSWORD, "email": "not-an-address"}, 400),
        ({"username": "bob", "password": PASSWORD, "extra": 1}, 422),
    ],
)
def test_bad_registrations_are_refused(
    client: TestClient, body: dict[str, object], status: int
) -> None:
    response = client.post("/auth/register", json=body)
    assert response.status_code == status
    assert response.json()["detail"]


def test_names_are_unique_whatever_the_case(client: TestClient) -> None:
    register(client, "grace")
    again = client.post("/auth/register", json={"username": "GRACE", "password": PASSWORD})
    assert again.status_code == 409
    assert "already registered" in again.json()["detail"]


def test_wrong_password_and_unknown_user_answer_alike(client: TestClient) -> None:
    register(client, "alan")
    wrong = client.post("/auth/token", data={"username": "alan", "password": "nope nope"})
    ghost = client.post("/auth/token", data={"username": "ghost", "password": "nope nope"})
    assert wrong.status_code == ghost.status_code == 401
    assert wrong.json() == ghost.json()
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    # no account can have a control character in its name; PostgreSQL cannot store NUL
    for name in ("a\x00b", "\x00", "tab\there"):
        odd = client.post("/auth/token", data={"username": name, "password": "nope nope"})
        assert odd.status_code == 422, (name, odd.text)


def test_brute_force_is_throttled_then_released(client: TestClient, database_url: str) -> None:
    register(client, "linus")
    for _ in range(3):
        assert (
            client.post(
                "/auth/token", data={"username": "linus", "password": "guess guess"}
            ).status_code
            == 401
        )
    blocked = client.post("/auth/token", data={"username": "linus", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    assert "too many failed sign-ins" in blocked.json()["detail"]
    # the window passing (failures aged) lets the right password in again
    with session_scope(database_url) as session:
        for row in session.scalars(select(LoginFailure)):
            row.failed_at = row.failed_at.replace(year=2000)
    assert (
        client.post("/auth/token", data={"username": "linus", "password": PASSWORD}).status_code
        == 200
    )


def test_refresh_rotates_and_reuse_revokes_the_session(client: TestClient) -> None:
    register(client, "barbara")
    first = client.post("/auth/token", data={"username": "barbara", "password": PASSWORD}).json()
    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert (
        client.get("/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).status_code
        == 200
    )
    replay = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    # the whole session is gone: the newest tokens stop working too
    assert (
        client.get("/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).status_code
        == 401
    )
    assert (
        client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 401
    )


def test_an_access_token_is_not_a_refresh_token(client: TestClient) -> None:
    register(client, "edsger")
    tokens = client.post("/auth/token", data={"username": "edsger", "password": PASSWORD}).json()
    response = client.post("/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401
    as_access = client.get("/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert as_access.status_code == 401


def test_logout_ends_the_session(client: TestClient) -> None:
    register(client, "donald")
    headers = sign_in(client, "donald")
    assert client.post("/auth/logout", headers=headers).status_code == 204
    after = client.get("/me", headers=headers)
    assert after.status_code == 401
    assert "sign in again" in after.json()["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-jwt",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
        "Bearer " + "a" * 60,
    ],
)
def test_forged_tokens_are_refused(client: TestClient, header: str) -> None:
    response = client.get("/me", headers={"Authorization": header})
    assert response.status_code == 401


def test_a_token_signed_with_another_key_is_refused(
    client: TestClient, data_root: Path, database_url: str
) -> None:
    register(client, "mallory")
    other = TestClient(
        create_app(Settings(data_root=data_root, database_url=database_url, secret_key="k" * 40))
    )
    foreign = sign_in(other, "mallory")
    assert client.get("/me", headers=foreign).status_code == 401


def test_api_keys_act_as_their_owner_until_revoked(client: TestClient) -> None:
    register(client, "ken")
    headers = sign_in(client, "ken")
    made = client.post("/me/api-keys", json={"name": "backend"}, headers=headers)
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith("rr_")
    me = client.get("/me", headers={"X-API-Key": key})
    assert me.status_code == 200 and me.json()["username"] == "ken"
    listed = client.get("/me/api-keys", headers=headers).json()
    assert [k["name"] for k in listed] == ["backend"]
    assert "key" not in listed[0]
    assert listed[0]["last_used_at"] is not None
    assert client.delete(f"/me/api-keys/{listed[0]['id']}", headers=headers).status_code == 204
    assert client.get("/me", headers={"X-API-Key": key}).status_code == 401
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert client.get("/me", headers={"X-API-Key": tampered}).status_code == 401


def test_one_cannot_revoke_another_users_key(client: TestClient) -> None:
    register(client, "alice")
    register(client, "eve")
    alice = sign_in(client, "alice")
    key_id = client.post("/me/api-keys", json={"name": "a"}, headers=alice).json()["id"]
    eve = sign_in(client, "eve")
    assert client.delete(f"/me/api-keys/{key_id}", headers=eve).status_code == 404


def test_admin_routes_by_role_and_by_operator_token(client: TestClient, database_url: str) -> None:
    viewer_id = register(client, "viewer1")
    viewer = sign_in(client, "viewer1")
    assert client.get("/admin/users", headers=viewer).status_code == 403
    assert client.get("/admin/users").status_code == 401
    assert client.get("/admin/users", headers={"X-Admin-Token": "wrong"}).status_code == 403
    assert (
        client.get("/admin/users", headers={"X-Admin-Token": "operator-token"}).status_code == 200
    )
    make_admin(database_url, "root")
    admin = sign_in(client, "root")
    listed = client.get("/admin/users", headers=admin).json()
    assert {u["username"] for u in listed["items"]} >= {"viewer1", "root"}
    promoted = client.put(f"/admin/users/{viewer_id}/role", json={"role": "creator"}, headers=admin)
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "creator" and promoted.json()["channels"]
    plan = client.put(f"/admin/users/{viewer_id}/plan", json={"plan": "premium"}, headers=admin)
    assert plan.json()["plan"] == {"name": "premium", "premium": True, "device_limit": 4}
    back = client.put(f"/admin/users/{viewer_id}/plan", json={"plan": "free"}, headers=admin)
    assert back.json()["plan"]["name"] == "free"
    assert (
        client.put("/admin/users/999999/plan", json={"plan": "free"}, headers=admin).status_code
        == 404
    )
    assert (
        client.put(
            f"/admin/users/{viewer_id}/plan", json={"plan": "gold"}, headers=admin
        ).status_code
        == 422
    )


def test_registration_never_makes_an_admin(database_url: str) -> None:
    from core.errors import ReelRankError
    from core.types import Role
    from serving import accounts

    with session_scope(database_url) as session, pytest.raises(ReelRankError, match="admins"):
        accounts.register(session, "sneaky", PASSWORD, None, Role.ADMIN)
