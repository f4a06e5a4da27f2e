"""Request and response bodies of users-ms."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

BCRYPT_MAX_BYTES = 72  # bcrypt ignores (bcrypt 5 rejects) anything longer


def _bcrypt_sized(value: str) -> str:
    if len(value.encode("utf-8")) > BCRYPT_MAX_BYTES:
        raise ValueError(f"at most {BCRYPT_MAX_BYTES} bytes in UTF-8")
    return value


Password = Annotated[str, Field(min_length=8), AfterValidator(_bcrypt_sized)]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(str.lower)]


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


class CredentialsCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class VerifiedUser(BaseModel):
    user_id: int
    email: str
