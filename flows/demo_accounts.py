"""The demo's people: an admin, a creator and a viewer, with passwords kept under the data
root (readable by its owner only) so that a rerun reuses them."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import BaseModel

from core.settings import Settings

#: File under the data root with the demo accounts' passwords.
ACCOUNTS_FILE = "demo-accounts.json"
ROLES = {"demo-admin": "admin", "demo-creator": "creator", "demo-viewer": "viewer"}


class DemoAccount(BaseModel):
    """One demo account and its password."""

    username: str
    role: str
    password: str
    user_id: int


def demo_accounts(settings: Settings) -> dict[str, DemoAccount]:
    """The demo's admin, creator and viewer by role, created on first use. The viewer is on
    the premium plan, so that premium videos play for them."""
    from sqlalchemy import select

    from core.db.models import User
    from core.db.session import session_scope
    from core.security import hash_password
    from core.types import Role
    from serving.accounts import create_account
    from serving.plans import plan_of, set_plan

    path = settings.paths.root / ACCOUNTS_FILE
    passwords = _read(path)
    accounts: dict[str, DemoAccount] = {}
    with session_scope(settings.resolved_database_url) as session:
        for username, role in ROLES.items():
            user = session.scalars(select(User).where(User.username == username)).first()
            if username not in passwords:
                passwords[username] = secrets.token_urlsafe(12)
                if user is not None:  # the file was lost: give the account the new password
                    user.password_hash = hash_password(passwords[username])
            if user is None:
                user = create_account(session, username, passwords[username], None, Role(role))
            if role == "viewer" and not plan_of(session, user.id).premium:
                set_plan(session, user.id, "premium")
            accounts[role] = DemoAccount(
                username=username, role=role, password=passwords[username], user_id=user.id
            )
    _write(path, passwords)
    return accounts


def _read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {str(k): str(v) for k, v in json.loads(path.read_text()).items()}


def _write(path: Path, passwords: dict[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(passwords, handle, indent=2)
