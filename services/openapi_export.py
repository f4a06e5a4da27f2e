"""Build each service's app and return (or write) its OpenAPI document as YAML.

`.venv/bin/python services/openapi_export.py` rewrites services/<name>/openapi.yaml; the services'
tests fail when the committed file differs from what the app serves. Apps are built with throw-away
secret files: OpenAPI does not depend on them.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

HERE = Path(__file__).resolve().parent
SERVICES = ("users", "auth", "notifications")


def write_keyset(folder: Path, kid: str = "k") -> Path:
    """A one-key EdDSA keyset.json (the format in docs/architecture.md) for throw-away runs."""
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    path = folder / "keyset.json"
    key = {"kid": kid, "alg": "EdDSA", "private_key_pem": pem}
    path.write_text(json.dumps({"active_kid": kid, "keys": [key]}))
    return path


def spec(name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "secret").write_text("placeholder")
        if name == "users":
            from users_service.app import create_app as users_app
            from users_service.settings import Settings as UsersSettings

            return users_app(UsersSettings()).main.openapi()  # the public port's API
        if name == "auth":
            from auth_service.app import create_app as auth_app
            from auth_service.settings import Settings as AuthSettings

            return auth_app(AuthSettings(jwt_keyset_file=write_keyset(folder))).openapi()
        from notifications_service.app import create_app as notifications_app
        from notifications_service.settings import Settings as NotificationsSettings

        secret = folder / "secret"
        settings = NotificationsSettings(s3_access_key_file=secret, s3_secret_key_file=secret)
        return notifications_app(settings).openapi()


def as_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def main() -> int:
    for name in SERVICES:
        (HERE / name / "openapi.yaml").write_text(as_yaml(spec(name)))
        print(f"wrote services/{name}/openapi.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
