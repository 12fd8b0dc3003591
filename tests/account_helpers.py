"""Helpers for tests that sign in through the real routes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.db.models import User
from core.db.session import session_scope
from core.security import hash_password
from core.types import Role

PASSWORD = "correct horse battery"


def register(client: TestClient, username: str, role: str = "viewer") -> int:
    """Register through the API; the new account's id."""
    response = client.post(
        "/auth/register", json={"username": username, "password": PASSWORD, "role": role}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """The Authorization header of a fresh session."""
    response = client.post("/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def make_admin(database_url: str, username: str) -> int:
    """An admin account written straight to the catalogue (registration never makes admins)."""
    with session_scope(database_url) as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            user = User(username=username, password_hash=hash_password(PASSWORD))
            session.add(user)
        user.role = Role.ADMIN
        session.flush()
        return user.id
