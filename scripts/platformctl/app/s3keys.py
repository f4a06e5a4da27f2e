"""S3 access keys of the platform's consumers: issued by the server, kept in Vault, rotated with overlap.

A rotation issues a second key, waits until the S3 server accepts it, lets `rotate` write it to Vault and
roll the consumers, and only then deletes the previous key (the consumers still running with it keep
working until they have restarted).
"""

from __future__ import annotations

from dataclasses import dataclass

from platformctl.adapters import s3admin, storage
from platformctl.adapters.s3admin import S3Admin
from platformctl.adapters.vault import Vault
from platformctl.config.secret_map import RotationSpec
from platformctl.errors import ConfigError

PROPAGATION_TIMEOUT = 30.0  # seconds an IAM change may take to reach the S3 gateways


def bucket_of(user: str) -> tuple[str, str]:
    """(bucket, prefix) the consumer `user` may use, from storage.BUCKETS."""
    for bucket, (consumer, prefix) in sorted(storage.BUCKETS.items()):
        if consumer == user:
            return bucket, prefix
    raise ConfigError(f"no bucket in storage.BUCKETS belongs to S3 user '{user}'; fix the secret map's role")


@dataclass
class KeyIssuer:
    """rotate.Issuer for one consumer's access key (Vault keys from the rotation spec)."""

    admin: S3Admin
    user: str
    bucket: str
    id_key: str  # Vault key of the access-key id
    secret_key: str  # Vault key of the secret
    prefix: str = ""
    region: str = "us-east-1"
    timeout: float = PROPAGATION_TIMEOUT

    @property
    def title(self) -> str:
        return f"issue a new access key for S3 user {self.user}, wait until it may use bucket {self.bucket}"

    def _works(self, key_id: str, secret: str) -> bool:
        return s3admin.can_use(self.admin.endpoint, key_id, secret, self.bucket, self.region)

    def issue(self, data: dict[str, str]) -> dict[str, str]:
        self.admin.ensure_user(self.user, self.bucket, self.prefix)  # idempotent; MinIO needs the policy
        key_id, secret = self.admin.create_key(self.user)
        try:
            s3admin.wait_for(
                lambda: self._works(key_id, secret),
                self.timeout,
                f"the new access key of {self.user} is refused",
            )
        except BaseException:
            self.admin.delete_key(self.user, key_id)
            raise
        return {**data, self.id_key: key_id, self.secret_key: secret}

    def discard(self, data: dict[str, str]) -> None:
        self.admin.delete_key(self.user, data[self.id_key])

    def retire(self, data: dict[str, str]) -> None:
        old_id, old_secret = data.get(self.id_key, ""), data.get(self.secret_key, "")
        if old_id not in self.admin.keys(self.user):
            return  # e.g. the seeded placeholder, never a key on the server
        self.admin.delete_key(self.user, old_id)
        s3admin.wait_for(
            lambda: not self._works(old_id, old_secret),
            self.timeout,
            f"the previous access key of {self.user} is still accepted",
        )


def issuer_for(spec: RotationSpec, admin: S3Admin, region: str = "us-east-1") -> KeyIssuer:
    if not spec.role or not spec.user_key:
        raise ConfigError(
            "an s3-access-key rotation needs `role` (the S3 user) and `user_key` in the secret map"
        )
    bucket, prefix = bucket_of(spec.role)
    return KeyIssuer(admin, spec.role, bucket, spec.user_key, spec.key, prefix, region)


def ensure_consumer(issuer: KeyIssuer, vault: Vault, path: str) -> str:
    """Create the consumer with its policy; when Vault's key is not one of the user's, issue one and
    write it as a new KV version. Returns what happened, for the table."""
    created = issuer.admin.ensure_user(issuer.user, issuer.bucket, issuer.prefix)
    current = vault.read(path)
    if current.data.get(issuer.id_key) in issuer.admin.keys(issuer.user):
        return "created" if created else "unchanged"
    data = issuer.issue(current.data)
    try:
        version = vault.write(path, data, cas=current.version)
    except BaseException:
        issuer.discard(data)
        raise
    return f"{'created, ' if created else ''}key issued (KV version {version})"


def ensure_users(
    admin: S3Admin, vault: Vault, rotations: dict[str, RotationSpec], region: str, dry_run: bool = False
) -> list[list[str]]:
    """Every consumer with an s3-access-key rotation: rows (user, bucket, result)."""
    rows = []
    for spec in sorted((s for s in rotations.values() if s.kind == "s3-access-key"), key=lambda s: s.path):
        issuer = issuer_for(spec, admin, region)
        result = "(dry run)" if dry_run else ensure_consumer(issuer, vault, spec.path)
        rows.append([issuer.user, f"{issuer.bucket}/{issuer.prefix}", result])
    return rows
