"""Request and response bodies of the account routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.types import Role


class RegisterRequest(BaseModel):
    """A new account."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=128)
    email: str | None = Field(None, max_length=255)
    role: Literal["viewer", "creator"] = Field(
        "viewer", description="Creators get a channel and may upload."
    )


class TokenResponse(BaseModel):
    """OAuth2 bearer tokens."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token stays valid.")


class RefreshRequest(BaseModel):
    """A refresh token to exchange for a new pair."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=16, max_length=2048)


class PlanOut(BaseModel):
    """A plan's entitlements."""

    name: str
    premium: bool
    device_limit: int


class ChannelRef(BaseModel):
    """A channel the account owns."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class UserOut(BaseModel):
    """An account as its owner (or an admin) sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str | None
    role: Role
    created_at: datetime
    plan: PlanOut
    channels: list[ChannelRef]


class ApiKeyRequest(BaseModel):
    """A new API key."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)


class ApiKeyOut(BaseModel):
    """An API key, without its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewApiKey(ApiKeyOut):
    """A just-made API key; ``key`` is shown this once."""

    key: str


class RoleRequest(BaseModel):
    """An account's new role."""

    model_config = ConfigDict(extra="forbid")

    role: Role


class PlanRequest(BaseModel):
    """An account's new plan."""

    model_config = ConfigDict(extra="forbid")

    plan: Literal["free", "premium"]


class UserPage(BaseModel):
    """A page of accounts."""

    items: list[UserOut]
    total: int
    limit: int
    offset: int
