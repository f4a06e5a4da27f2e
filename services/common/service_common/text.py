"""Text a client sends: only what PostgreSQL can store, and e-mail addresses in one canonical form.

PostgreSQL `text` in a UTF8 database holds every Unicode scalar value but NUL, and a lone surrogate (a
Python `str` and JSON's `"\\ud800"` can carry one) has no UTF-8 encoding at all, so psycopg cannot even
send it. Either used to end as a 500. Every text field of a request body or query is therefore a
`SafeText` (or built on one): such input is a 422 naming the field, with a message that does not repeat
the value (service_common.http).

E-mail addresses are compared and stored in one form, `canonical_email`: NFKC folds compatibility
look-alikes (full-width letters such as U+FF41, ligatures, circled letters) into plain letters and full
case folding makes case variants equal, so look-alikes cannot become separate accounts. The limits are
RFC 5321's, counted in UTF-8 octets as RFC 6531 does for internationalised addresses.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

NUL = "\x00"
EMAIL_MAX_OCTETS = 254  # RFC 5321's 256-octet path less its angle brackets
EMAIL_LOCAL_PART_MAX_OCTETS = 64  # RFC 5321, 4.5.3.1.1
CREDENTIAL_EMAIL_MAX_CHARS = 254
CREDENTIAL_PASSWORD_MAX_CHARS = 1024


def storable(value: str) -> str:
    """`value` unchanged when PostgreSQL text can hold it; ValueError (the value not quoted) otherwise."""
    if NUL in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must not contain lone surrogates (text that has no UTF-8 form)") from None
    return value


def canonical_email(value: str) -> str:
    """NFKC, full case folding, then NFKC again (folding can leave a string that is not NFKC).

    Applied to the whole address: domains are case-insensitive anyway, and local parts have been treated
    as case-insensitive here from the start (the seed lower-cased them).
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def within_email_limits(value: str) -> str:
    """At most 254 octets in all and 64 before the last `@` (a domain cannot contain one)."""
    if len(value.encode("utf-8")) > EMAIL_MAX_OCTETS:
        raise ValueError(f"e-mail address longer than {EMAIL_MAX_OCTETS} octets in UTF-8")
    local, at, _ = value.rpartition("@")
    if at and len(local.encode("utf-8")) > EMAIL_LOCAL_PART_MAX_OCTETS:
        raise ValueError(f"part before the @ longer than {EMAIL_LOCAL_PART_MAX_OCTETS} octets in UTF-8")
    return value


def canonical_email_input(value: object) -> object:
    """For a `BeforeValidator` ahead of a syntax check (e.g. pydantic's EmailStr): storable, then
    canonical, so a full-width address is checked in its plain form. Non-strings are left to the check."""
    return canonical_email(storable(value)) if isinstance(value, str) else value


SafeText = Annotated[str, AfterValidator(storable)]
"""Any text field or parameter of a request: NUL and lone surrogates are a 422. Length constraints go
before it (`Annotated[str, Field(max_length=100), AfterValidator(storable)]`) so they check the input
and appear in the OpenAPI schema."""

_EMAIL_CHECKS = (
    AfterValidator(storable),
    AfterValidator(canonical_email),
    AfterValidator(within_email_limits),
)

CanonicalEmail = Annotated[str, Field(max_length=CREDENTIAL_EMAIL_MAX_CHARS), *_EMAIL_CHECKS]
"""An e-mail address to look up (no syntax check): storable, canonical, within RFC 5321's lengths."""

CredentialEmail = Annotated[str, Field(min_length=1, max_length=CREDENTIAL_EMAIL_MAX_CHARS), *_EMAIL_CHECKS]
CredentialPassword = Annotated[
    str, Field(min_length=1, max_length=CREDENTIAL_PASSWORD_MAX_CHARS), AfterValidator(storable)
]
"""The two fields of a login (auth-ms) and of the credential check it forwards to (users-ms): one type
for both, so users-ms never refuses with a 422 what auth-ms accepted and passed on."""
