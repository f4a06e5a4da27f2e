"""Request and response bodies of users-ms, and the bounds of its path and query parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field
from service_common.text import (
    CanonicalEmail,
    CredentialEmail,
    CredentialPassword,
    canonical_email,
    canonical_email_input,
    storable,
    within_email_limits,
)

BCRYPT_MAX_BYTES = 72  # bcrypt ignores (bcrypt 5 rejects) anything longer


def _bcrypt_sized(value: str) -> str:
    if len(value.encode("utf-8")) > BCRYPT_MAX_BYTES:
        raise ValueError(f"at most {BCRYPT_MAX_BYTES} bytes in UTF-8")
    return value


PG_BIGINT_MAX = 2**63 - 1  # users.id is a BIGINT; a larger id or offset is a 422, not a database error

Password = Annotated[str, Field(min_length=8), AfterValidator(storable), AfterValidator(_bcrypt_sized)]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(storable)]
# Canonical before the syntax check (a full-width address is checked in its plain form) and again after
# it, as email-validator turns an IDNA (`xn--`) domain into Unicode. Stored and compared in this form.
Email = Annotated[
    EmailStr,
    BeforeValidator(canonical_email_input),
    Field(max_length=254),
    AfterValidator(canonical_email),
    AfterValidator(within_email_limits),
]

# Route parameters. A filter longer than any stored value cannot match, so it is refused like one.
UserId = Annotated[int, Path(ge=1, le=PG_BIGINT_MAX)]
Offset = Annotated[int, Query(ge=0, le=PG_BIGINT_MAX)]
EmailFilter = Annotated[CanonicalEmail | None, Query()]
NameFilter = Annotated[Annotated[str, Field(max_length=100), AfterValidator(storable)] | None, Query()]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    surname: Name
    email: Email
    password: Password


class UserUpdate(BaseModel):
    """PUT replaces name, surname and e-mail; the password changes only when given."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    surname: Name
    email: Email
    password: Password | None = None


class User(BaseModel):
    id: int
    name: str
    surname: str
    email: str
    created_at: datetime
    updated_at: datetime


class UserPage(BaseModel):
    items: list[User]
    total: int
    limit: int
    offset: int


# The login's client address as auth-ms counts it (an IP address, or the peer's name), for the login event.
SourceIp = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(storable)]


class CredentialsCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: CredentialEmail
    password: CredentialPassword
    source_ip: SourceIp | None = None


class VerifiedUser(BaseModel):
    user_id: int
    email: str
    role: str
