"""service_common.text: text PostgreSQL can store, and the one canonical form of an e-mail address."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from service_common.text import (
    EMAIL_LOCAL_PART_MAX_OCTETS,
    EMAIL_MAX_OCTETS,
    CanonicalEmail,
    CredentialEmail,
    CredentialPassword,
    SafeText,
    canonical_email,
    canonical_email_input,
)

FULL_WIDTH_A = "\uff41"  # FULLWIDTH LATIN SMALL LETTER A
FULL_WIDTH_AT = "\uff20"
LONE_SURROGATE = "\ud800"


def errors_of(annotation: object, value: object) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(annotation).validate_python(value)
    return [(err["type"], err["msg"]) for err in caught.value.errors()]


@pytest.mark.parametrize("annotation", [SafeText, CanonicalEmail, CredentialEmail, CredentialPassword])
@pytest.mark.parametrize("value", ["a\x00b@example.org", f"a{LONE_SURROGATE}@example.org", "\x00"])
def test_unstorable_text_is_refused_without_quoting_it(annotation: object, value: str) -> None:
    problems = errors_of(annotation, value)
    assert len(problems) == 1
    assert value not in problems[0][1] and "\\x00" not in problems[0][1]


def test_storable_text_passes_unchanged() -> None:
    text = "Zoë \u2603 \U0001f600 \t tab and emoji"  # anything but NUL and lone surrogates
    assert TypeAdapter(SafeText).validate_python(text) == text


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        (f"{FULL_WIDTH_A}@x.com", "a@x.com"),
        (f"a{FULL_WIDTH_AT}x.com", "a@x.com"),
        ("ADA.Lovelace@Example.ORG", "ada.lovelace@example.org"),
        ("stra\u00dfe@x.com", "strasse@x.com"),  # sharp s folds to ss
        ("\ufb01le@x.com", "file@x.com"),  # the fi ligature
        ("\u13a0@x.com", "\u13a0@x.com"),  # Cherokee folds to capitals: lower() would not be canonical
    ],
)
def test_look_alikes_share_one_canonical_form(variant: str, canonical: str) -> None:
    assert canonical_email(variant) == canonical
    assert TypeAdapter(CredentialEmail).validate_python(variant) == canonical


@settings(max_examples=300, derandomize=True, database=None)
@given(st.text(max_size=20))
def test_canonical_form_is_stable(value: str) -> None:
    once = canonical_email(value)
    assert canonical_email(once) == once
    assert unicodedata.is_normalized("NFKC", once)


def test_rfc_5321_lengths_are_octets() -> None:
    email = TypeAdapter(CanonicalEmail)
    local = "a" * EMAIL_LOCAL_PART_MAX_OCTETS
    assert email.validate_python(f"{local}@x.com") == f"{local}@x.com"
    assert "before the @" in errors_of(CanonicalEmail, f"{local}a@x.com")[0][1]
    two_octets = "\u00e9" * (EMAIL_LOCAL_PART_MAX_OCTETS // 2 + 1)  # 33 characters, 66 octets
    assert "before the @" in errors_of(CanonicalEmail, f"{two_octets}@x.com")[0][1]
    domain = ".".join(["d" * 60] * 4)  # 243 characters
    whole = f"{'b' * 10}@{domain}"
    assert len(whole) == EMAIL_MAX_OCTETS
    assert email.validate_python(whole) == whole
    wide = "b" * 5 + "@" + domain + "\u00e9" * 3  # 252 characters, 255 octets
    assert "longer than 254" in errors_of(CanonicalEmail, wide)[0][1]


def test_canonical_input_leaves_non_strings_to_the_next_check() -> None:
    assert canonical_email_input(42) == 42
    with pytest.raises(ValueError, match="NUL"):
        canonical_email_input("a\x00@x.com")
