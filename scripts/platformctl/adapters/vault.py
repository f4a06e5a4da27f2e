"""Vault KV v2 access (hvac): authentication, reads and writes with one-line errors, never a value in them.

Address and token: VAULT_ADDR/VAULT_TOKEN from the environment win over the dev server's state file
(`.state/vault-dev.json`, written by `platformctl vault dev`). AppRole: VAULT_ROLE_ID + VAULT_SECRET_ID.
Kubernetes auth (in cluster): VAULT_K8S_ROLE with the pod's service-account token.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import requests
from hvac import exceptions as hvac_errors
from requests.adapters import HTTPAdapter

from platformctl.config.paths import state_dir
from platformctl.errors import VaultError, VaultSecretMissing

SA_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
_WORKERS = 16


def state_file() -> Path:
    return state_dir() / "vault-dev.json"


@dataclass(frozen=True)
class Entry:
    """One KV v2 secret as read: its data and version (the data never goes into a message)."""

    path: str
    data: dict[str, str]
    version: int


def _json_kind(value: object) -> str:
    """What a non-string KV value is, in JSON's words (the value itself is never shown)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return f"a {type(value).__name__}"


def _fix(addr: str) -> str:
    return f"check VAULT_ADDR ({addr}) or start the dev server with `platformctl vault dev`"


def _state(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        raise VaultError(
            f"{path} is unreadable; run `platformctl vault dev --stop`, then `vault dev`"
        ) from None


def _session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=_WORKERS))
    session.mount("https://", HTTPAdapter(pool_maxsize=_WORKERS))
    return session


def _login(client: hvac.Client, environ: Mapping[str, str], token: str | None) -> str:
    """Authenticate with the first method the environment offers; return its name."""
    if environ.get("VAULT_ROLE_ID") and environ.get("VAULT_SECRET_ID"):
        client.auth.approle.login(role_id=environ["VAULT_ROLE_ID"], secret_id=environ["VAULT_SECRET_ID"])
        return "approle"
    if environ.get("VAULT_K8S_ROLE"):
        jwt = Path(environ.get("VAULT_K8S_TOKEN_FILE", str(SA_TOKEN))).read_text().strip()
        client.auth.kubernetes.login(
            role=environ["VAULT_K8S_ROLE"], jwt=jwt, mount_point=environ.get("VAULT_K8S_MOUNT", "kubernetes")
        )
        return "kubernetes"
    if not token:
        raise VaultError(
            "no Vault credentials: set VAULT_TOKEN, VAULT_ROLE_ID/VAULT_SECRET_ID or "
            "VAULT_K8S_ROLE, or run `platformctl vault dev`"
        )
    client.token = token
    return "token"


class Vault:
    """A logged-in client bound to one KV v2 mount and environment."""

    def __init__(self, client: hvac.Client, addr: str, mount: str, env: str, method: str) -> None:
        self.client, self.addr, self.mount, self.env, self.method = client, addr, mount, env, method

    def _where(self, component: str) -> str:
        return f"{self.mount}/{self.env}/{component}"

    def _call(self, component: str, action: str, call: Any) -> Any:
        where = self._where(component)
        try:
            return call()
        except hvac_errors.Forbidden:
            raise VaultError(
                f"Vault denied {action} on {where} (HTTP 403): the {self.method} token lacks "
                f"a policy for it; grant `{action}` on {self.mount}/data/{self.env}/*"
            ) from None
        except hvac_errors.InvalidPath:
            raise VaultSecretMissing(
                f"secret {where} does not exist in Vault at {self.addr}; seed it "
                "(`platformctl vault dev` for dev) or write it"
            ) from None
        except hvac_errors.VaultDown:
            raise VaultError(f"Vault at {self.addr} is sealed; unseal it and retry") from None
        except requests.RequestException:
            raise VaultError(f"Vault at {self.addr} is unreachable; {_fix(self.addr)}") from None
        except hvac_errors.VaultError as exc:
            raise VaultError(f"Vault {action} on {where} failed: {type(exc).__name__} (HTTP error)") from None

    def read(self, component: str, version: int | None = None) -> Entry:
        kv = self.client.secrets.kv.v2
        response = self._call(
            component,
            "read",
            lambda: kv.read_secret_version(
                path=f"{self.env}/{component}",
                mount_point=self.mount,
                version=version,
                raise_on_deleted_version=True,
            ),
        )
        data = response["data"]
        return Entry(component, self._strings(component, data["data"]), int(data["metadata"]["version"]))

    def _strings(self, component: str, data: Mapping[str, Any]) -> dict[str, str]:
        """The entry's values, which must all be strings: a Secret's data and the generated checksums are
        built from them, and rotation writes the whole entry back. The error names the key, not the value."""
        wrong = sorted(
            (str(key), _json_kind(value)) for key, value in data.items() if not isinstance(value, str)
        )
        if wrong:
            key, kind = wrong[0]
            more = f" (and {len(wrong) - 1} more key(s))" if len(wrong) > 1 else ""
            where = self._where(component)
            raise VaultError(
                f"Vault secret {where} key '{key}' holds {kind}, not a string{more}; platformctl needs "
                f"string values: write it as one, e.g. `bao kv patch -mount={self.mount} "
                f"{self.env}/{component} {key}=<value>`"
            )
        return {str(key): value for key, value in data.items() if isinstance(value, str)}

    def read_many(self, components: Iterable[str]) -> dict[str, Entry]:
        """Read several paths concurrently (one connection pool, bounded workers)."""
        unique = sorted(set(components))
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            return dict(zip(unique, pool.map(self.read, unique), strict=True))

    def write(self, component: str, data: Mapping[str, str], cas: int | None = None) -> int:
        """Write a new version; with `cas` only when the current version is still `cas`."""
        kv = self.client.secrets.kv.v2
        response = self._call(
            component,
            "update",
            lambda: kv.create_or_update_secret(
                path=f"{self.env}/{component}", secret=dict(data), mount_point=self.mount, cas=cas
            ),
        )
        return int(response["data"]["version"])

    def exists(self, component: str) -> bool:
        try:
            self.read(component)
        except VaultSecretMissing:
            return False
        return True


def _health(session: requests.Session, addr: str) -> dict[str, Any]:
    """GET /v1/sys/health, which every Vault/OpenBao answers (any token or none) with a JSON status,
    whatever its HTTP code (200 active, 429 standby, 501 not initialised, 503 sealed); anything else is
    not a Vault server, and only the status code and content type of its answer are reported."""
    url = addr.rstrip("/") + "/v1/sys/health"
    response = session.get(url, timeout=10, allow_redirects=False)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not {"initialized", "sealed"} <= set(body):
        kind = response.headers.get("Content-Type", "no content type").split(";")[0].strip()
        raise VaultError(
            f"VAULT_ADDR ({addr}) does not answer like Vault/OpenBao: GET /v1/sys/health gave HTTP "
            f"{response.status_code} ({kind or 'no content type'}, no Vault health status); set VAULT_ADDR "
            "to the Vault server's API address (scheme, host and port, e.g. http://127.0.0.1:8200)"
        )
    return body


def _check_mount(client: hvac.Client, addr: str, mount: str) -> None:
    """The secret map's mount must be KV version 2. The mount's type comes from the endpoint the `bao kv`
    CLI asks (any token with a policy under the mount may read it); a mount that does not exist yet or that
    the token may not look up is left to the reads and writes (whose errors say so)."""
    try:
        response = client.adapter.get(f"/v1/sys/internal/ui/mounts/{mount}")
    except (hvac_errors.VaultError, requests.RequestException, ValueError):
        return
    info = response.get("data") if isinstance(response, dict) else None
    if not isinstance(info, dict) or not info.get("type"):
        return
    kind, version = str(info["type"]), str((info.get("options") or {}).get("version") or "1")
    if kind not in ("kv", "generic"):
        raise VaultError(
            f"Vault mount {mount}/ at {addr} is a '{kind}' secrets engine, not KV version 2; set the "
            "secret map's `mount` to a KV v2 mount, or enable one: "
            "`bao secrets enable -version=2 -path=<mount> kv`"
        )
    if version != "2":
        raise VaultError(
            f"Vault mount {mount}/ at {addr} is KV version {version}; platformctl needs KV version 2 "
            f"(versions, check-and-set): upgrade it in place with `bao kv enable-versioning {mount}` or "
            f"enable a new one with `bao secrets enable -version=2 -path={mount} kv`"
        )


def connect(
    env: str, mount: str = "kv", environ: Mapping[str, str] | None = None, state: Path | None = None
) -> Vault:
    """Find the address and credentials, check that a Vault answers there, unsealed, log in, verify the
    token and that the mount (when it exists) is KV version 2."""
    environ = os.environ if environ is None else environ
    saved = _state(state or state_file())
    addr = environ.get("VAULT_ADDR") or saved.get("address")
    if not addr:
        raise VaultError("no Vault address: set VAULT_ADDR or start the dev server: `platformctl vault dev`")
    token = environ.get("VAULT_TOKEN") or (saved.get("token") if not environ.get("VAULT_ADDR") else None)
    session = _session()
    client = hvac.Client(url=addr, session=session, timeout=10)
    try:
        health = _health(session, addr)
        if health["sealed"]:
            raise VaultError(f"Vault at {addr} is sealed; unseal it and retry")
        if not health["initialized"]:
            raise VaultError(f"Vault at {addr} is not initialised; run `bao operator init` (then unseal)")
        method = _login(client, environ, token)
        client.auth.token.lookup_self()
    except requests.RequestException:
        raise VaultError(f"Vault at {addr} is unreachable; {_fix(addr)}") from None
    except (hvac_errors.Forbidden, hvac_errors.InvalidRequest, hvac_errors.Unauthorized):
        raise VaultError(
            f"Vault at {addr} rejected the credentials (invalid or expired token / role); "
            "renew them or rerun `platformctl vault dev`"
        ) from None
    except OSError as exc:
        raise VaultError(f"cannot read the Kubernetes service-account token: {exc.strerror}") from None
    _check_mount(client, addr, mount)
    return Vault(client, addr, mount, env, method)
