"""The own service images: content tags, builds, and delivery to where the cluster's nodes can run them.

Tag = `<version from versions.yaml>-<12 hex of sha256 over the build inputs>`: the service's folder, the
shared Dockerfile of the Python services (services/Dockerfile, built with SERVICE=<name>), the shared
library (services/common), the build context's .dockerignore and the base image pin. A change in a
service's source or lock file gives a new tag; an unchanged tree gives the same tag, and an image that
already exists is not built again.

The backup runner's image (`pgbackup`, services/pgbackup) is built the same way but FROM the image the
postgresql release runs (so pg_dump is the server's major version; docs/adr/0008-*): that image is its
base pin, and services/common is not one of its inputs.

Delivery (site profile `images.delivery`, else by cluster type):
- `kind`: `docker save | ctr import` into every node of the kind cluster (what `kind load` does);
- `docker`: the nodes run on the Docker daemon at $DOCKER_HOST (a local Docker-based cluster such as the
  test harness): building there is the delivery;
- `registry`: `docker push` to the registry the EKS module creates (output `image_registry`);
- `none`: nothing; the cluster must be able to pull the images (CI that builds and pushes separately).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from platformctl.config.versions import Versions
from platformctl.errors import ConfigError, PlatformError

SERVICES = ("users", "auth", "notifications")
BACKUP = "pgbackup"  # built FROM the database's own image
_SKIP_PARTS = {"tests", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


class ImageError(PlatformError):
    """docker failed; exit code 6 like other failures of the cluster's runtime."""

    exit_code = 6


@dataclass(frozen=True)
class ServiceImage:
    name: str
    repository: str  # as the cluster pulls it (with the registry host for `registry` delivery)
    tag: str
    dockerfile: Path
    context: Path
    build_args: tuple[tuple[str, str], ...]

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


def dockerfile(services: Path, name: str) -> Path:
    """The Python services share services/Dockerfile (SERVICE=<name>); the backup runner has its own."""
    return services / name / "Dockerfile" if name == BACKUP else services / "Dockerfile"


def is_own_image(services: Path, name: str) -> bool:
    """An image built here: services/<name>/ with the lock file of its packages (constraints.txt)."""
    return (services / name / "constraints.txt").is_file()


def _inputs(services: Path, name: str) -> Iterator[Path]:
    shared = dockerfile(services, name)
    if name != BACKUP and shared.is_file():
        yield shared
    folders = (services / name,) if name == BACKUP else (services / "common", services / name)
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(services)
            skipped = _SKIP_PARTS & set(relative.parts) or any(
                p.endswith(".egg-info") for p in relative.parts
            )
            if path.is_file() and not skipped and path.suffix not in _SKIP_SUFFIXES:
                yield path
    ignore = services / ".dockerignore"
    if ignore.is_file():
        yield ignore


def content_digest(services: Path, name: str, base_image: str) -> str:
    """sha256 over the relative path and bytes of every build input, and the base image pin."""
    digest = hashlib.sha256(f"base={base_image}\n".encode())
    for path in _inputs(services, name):
        digest.update(str(path.relative_to(services)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def planned(
    root: Path, pins: Versions, registry: str | None = None, database_image: str | None = None
) -> list[ServiceImage]:
    """The three service images and the backup image with their content tags (registry host prefixed
    when given). `database_image`: what the postgresql release runs (default versions.yaml's pin)."""
    base = pins.images["python-base"]
    base_ref = base.reference  # by digest too, so a re-pushed tag cannot change what is built
    bases: dict[str, tuple[tuple[str, str], ...]] = {
        name: (("PYTHON_BASE", base_ref), ("SERVICE", name)) for name in SERVICES
    }
    bases[BACKUP] = (("POSTGRES_IMAGE", database_image or pins.images["postgresql"].reference),)
    services = root / "services"
    out = []
    for name, build_args in bases.items():
        if name not in pins.images:
            raise ConfigError(f"versions.yaml images.{name} is missing; every own image needs its repository")
        pin = pins.images[name]
        repository = f"{registry.rstrip('/')}/{pin.repository}" if registry else pin.repository
        tag = f"{pin.tag}-{content_digest(services, name, build_args[0][1])[:12]}"
        out.append(ServiceImage(name, repository, tag, dockerfile(services, name), services, build_args))
    return out


def docker_binary() -> str:
    found = shutil.which("docker")
    if not found:
        raise ConfigError(
            "the docker CLI is not on PATH; install Docker (needed to build the service images)"
        )
    return found


def _docker(
    *args: str, stdin: bytes | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [docker_binary(), *args], input=stdin, capture_output=True, timeout=timeout, check=False
    )


def _last_line(result: subprocess.CompletedProcess[bytes]) -> str:
    text = (result.stderr or result.stdout or b"").decode(errors="replace").strip()
    return (text.splitlines() or ["no output"])[-1][:300]


def exists(image: ServiceImage) -> bool:
    return _docker("image", "inspect", "--format", "{{.Id}}", image.ref, timeout=60).returncode == 0


def build(image: ServiceImage) -> float:
    """`docker build` of one image (host network, classic or BuildKit builder); returns seconds."""
    args = ["build", "--network", "host", "-q", "-t", image.ref, "-f", str(image.dockerfile)]
    for key, value in image.build_args:
        args += ["--build-arg", f"{key}={value}"]
    started = time.monotonic()
    result = _docker(*args, str(image.context))
    if result.returncode != 0:
        raise ImageError(
            f"docker build {image.ref} failed: {_last_line(result)}; "
            "is the Docker daemon running ($DOCKER_HOST)?"
        )
    return time.monotonic() - started


def kind_nodes(cluster: str) -> list[str]:
    """Node containers of a kind cluster (kind labels them with the cluster name)."""
    result = _docker(
        "ps", "--filter", f"label=io.x-k8s.kind.cluster={cluster}", "--format", "{{.Names}}", timeout=60
    )
    if result.returncode != 0:
        raise ImageError(f"docker ps failed: {_last_line(result)}; is the Docker daemon running?")
    nodes = sorted(line for line in result.stdout.decode().splitlines() if line.strip())
    if not nodes:
        raise ImageError(
            f"no node of the kind cluster '{cluster}' is running; run `make apply` again "
            "(it re-creates the cluster) or `make destroy` first"
        )
    return nodes


def same_image(listed: str, ref: str) -> bool:
    """Whether a name in a kind node's containerd is the Docker reference `ref`: containerd stores short
    references under the default registry's domain (and `library/` for one-part names), so `platform/
    users:1` is listed as `<default registry domain>/platform/users:1`."""
    first = ref.split("/", 1)[0]
    if listed == ref or ("/" in ref and ("." in first or ":" in first or first == "localhost")):
        return listed == ref
    short = ref if "/" in ref else f"library/{ref}"
    domain, _, rest = listed.partition("/")
    return rest == short and ("." in domain or ":" in domain)


def load_into_kind(image: ServiceImage, nodes: list[str]) -> list[str]:
    """Import the image into each node's containerd (k8s.io namespace) unless it is there already."""
    loaded = []
    saved: bytes | None = None
    for node in nodes:
        check = _docker("exec", node, "ctr", "--namespace=k8s.io", "images", "list", "-q", timeout=60)
        listed = check.stdout.decode(errors="replace").split() if check.returncode == 0 else []
        if any(same_image(name, image.ref) for name in listed):
            continue
        if saved is None:
            dump = _docker("save", image.ref)
            if dump.returncode != 0:
                raise ImageError(f"docker save {image.ref} failed: {_last_line(dump)}")
            saved = dump.stdout
        result = _docker(
            "exec",
            "-i",
            node,
            "ctr",
            "--namespace=k8s.io",
            "images",
            "import",
            "--all-platforms",
            "-",
            stdin=saved,
        )
        if result.returncode != 0:
            raise ImageError(f"loading {image.ref} into kind node {node} failed: {_last_line(result)}")
        loaded.append(node)
    return loaded


def push(image: ServiceImage) -> None:
    result = _docker("push", "-q", image.ref)
    if result.returncode != 0:
        registry = image.repository.split("/", 1)[0]
        raise ImageError(
            f"docker push {image.ref} failed: {_last_line(result)}; log in first "
            f"(EKS: `aws ecr get-login-password | docker login --username AWS "
            f"--password-stdin {registry}`)"
        )
