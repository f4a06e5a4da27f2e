"""`platformctl doctor`: can `apply` of this ENV run now, on this machine and site?

One table of tools, then one row per thing `apply` needs: ok, warn (informative, does not block) or FAIL
with the fix. What is needed follows from the env files and the site profile (PLATFORMCTL_SITE): who
provides the cluster (kind or EKS created by apply, or the site's existing one), whether images are built
(Docker), and which Terraform stacks run (their providers must be installable). Every check is cheap: no
cluster is created, no provider downloaded; a TCP connect says whether the registry can be reached.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from platformctl.app.toolchain import ToolStatus, status
from platformctl.config import site as sites
from platformctl.config.paths import repo_root
from platformctl.config.site import Site
from platformctl.config.versions import Versions
from platformctl.context import Context, render_table
from platformctl.errors import ConfigError, PlatformError

OK, WARN, FAIL = "ok", "warn", "FAIL"
DOCKER_TIMEOUT = 5  # seconds for `docker info`
CONNECT_TIMEOUT = 2  # seconds for the TCP connect to the provider registry
REGISTRY_FIX = (
    "allow access to the Terraform registry or configure a provider mirror, see terraform/README.md"
)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        """False only for FAIL: a warning does not stop `apply`."""
        return self.status != FAIL

    def cells(self) -> list[str]:
        return [self.name, self.status, f"{self.detail}; fix: {self.fix}" if self.fix else self.detail]


def _split_fix(message: str, default: str) -> tuple[str, str]:
    """Our errors read "<problem>; <fix>": the two halves, or the whole message and `default`."""
    problem, _, fix = message.rpartition("; ")
    return (problem, fix) if problem and fix else (message, default)


# --- what apply needs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Needs:
    """What `apply` of `env` on `site` will need (the same decisions as deploy.Deployment)."""

    env: str
    site: Site
    cluster: str  # "existing" (the site's), "kind" or "eks" (created by apply's stacks/cluster)
    build: bool  # apply builds the service images (no --no-build)

    @property
    def stacks(self) -> tuple[str, ...]:
        """The Terraform stacks with providers that apply runs (release-plan is provider-free)."""
        return self.site.terraform_stacks()

    @property
    def delivery(self) -> str:
        return self.site.delivery(self.cluster)

    @property
    def docker(self) -> str | None:
        """Why apply needs a Docker daemon, or None when it does not."""
        reasons = []
        if self.cluster == "kind":
            reasons.append("the kind cluster's nodes")
        if self.build:
            reasons.append(f"the image build (delivery {self.delivery})")
        return " and ".join(reasons) or None


def needs(env: str, site: Site, build: bool = True) -> Needs:
    return Needs(env, site, site.cluster_type(env), build)


def site_check(environ: Mapping[str, str] | None = None) -> tuple[Check, Site]:
    """The site profile doctor assumes (an unreadable one fails; the defaults are used for the rest)."""
    try:
        profile = sites.load(dict(environ) if environ is not None else None)
    except ConfigError as exc:
        problem, fix = _split_fix(str(exc), "fix the file or unset " + sites.ENV_VAR)
        return Check("site", FAIL, problem, fix), Site()
    if not profile.source:
        return Check("site", OK, f"none ({sites.ENV_VAR} not set): the repository's defaults"), profile
    parts = [f"existing cluster '{profile.cluster.kube_context}'" if profile.cluster else "cluster by apply"]
    parts.append(f"images: {profile.images.delivery}" if profile.images else "images: default delivery")
    parts.append(f"installer: {profile.installer_name}")
    return Check("site", OK, f"{profile.source}: {', '.join(parts)}"), profile


# --- tools and Vault --------------------------------------------------------------------------------


def tools_check(statuses: Sequence[ToolStatus]) -> Check:
    bad = [s for s in statuses if not s.ok]
    if not bad:
        return Check("tools", OK, f"{len(statuses)} tools at the required versions (table above)")
    problems = [
        f"{s.name} missing" if not s.path else f"{s.name} {s.version or '?'} (needs {s.required})"
        for s in bad
    ]
    return Check("tools", FAIL, ", ".join(problems), "run `make setup`")


def vault_check(addr: str | None, env: str = "dev") -> Check:
    """Reachability only (sys/health answers without a token); the login is `vault auth`."""
    if not addr:
        if env == "dev":
            return Check("vault", OK, "VAULT_ADDR not set: apply starts (or reuses) the local dev Vault")
        return Check(
            "vault",
            FAIL,
            f"VAULT_ADDR not set; {env}'s secrets come from a Vault",
            "set VAULT_ADDR (and VAULT_TOKEN, or VAULT_ROLE_ID/VAULT_SECRET_ID)",
        )
    try:
        with urllib.request.urlopen(f"{addr.rstrip('/')}/v1/sys/health", timeout=3) as response:  # noqa: S310
            return Check("vault", OK, f"{addr} reachable (HTTP {response.status})")
    except urllib.error.HTTPError as exc:  # 429/472/473/501/503 still mean "a Vault answered"
        if exc.code == 503:
            return Check("vault", FAIL, f"{addr} answered: sealed", "unseal it (`bao operator unseal`)")
        if exc.code == 501:
            return Check("vault", FAIL, f"{addr} answered: not initialised", "initialise and unseal it")
        return Check("vault", OK, f"{addr} answered: HTTP {exc.code}")
    except (OSError, ValueError) as exc:
        return Check(
            "vault",
            FAIL,
            f"{addr} unreachable ({exc})",
            "start Vault or fix VAULT_ADDR (and the network to it)",
        )


def vault_auth_check(env: str) -> Check:
    """Log in the way the Vault verbs do (env token, AppRole, dev state file) and look the token up."""
    from platformctl.adapters import vault
    from platformctl.app import vault_dev
    from platformctl.errors import VaultError

    if not os.environ.get("VAULT_ADDR"):
        if env != "dev":
            return Check(
                "vault auth",
                FAIL,
                "no Vault to log in to",
                "set VAULT_ADDR and VAULT_TOKEN (or VAULT_ROLE_ID/VAULT_SECRET_ID)",
            )
        if not vault_dev.running(vault.state_file()):
            return Check("vault auth", OK, "dev Vault not running: apply starts it and seeds dev's secrets")
    try:
        client = vault.connect(env)
    except VaultError as exc:
        problem, fix = _split_fix(str(exc), "check VAULT_ADDR and the credentials (docs/configuration.md)")
        return Check("vault auth", FAIL, problem, fix)
    return Check("vault auth", OK, f"{client.method} login ok at {client.addr}")


# --- Kubernetes -------------------------------------------------------------------------------------


def kube_check(env: str, need: Needs | None = None) -> Check:
    """The env's kube context in the kubeconfig apply will use (no API call: that is `kube API`).

    Missing: FAIL when apply deploys onto the site's existing cluster, warn when apply creates it.
    """
    from kubernetes import config  # imported here: slow import, only doctor needs it

    from platformctl.adapters import kube
    from platformctl.errors import KubernetesError

    need = need or needs(env, sites.load())
    try:
        wanted = kube.expected_context(env)
    except KubernetesError as exc:
        problem, fix = _split_fix(str(exc), "fix terraform/envs/" + env)
        return Check("kube context", FAIL, problem, fix)
    path = kube.kubeconfig(env)
    shown = path or "~/.kube/config"
    try:
        contexts, current = config.list_kube_config_contexts(config_file=path)
        names = {c["name"]: c["context"].get("cluster", "?") for c in contexts}
        current_name, problem = current["name"], ""
    except (config.ConfigException, OSError, TypeError) as exc:
        names, current_name = {}, ""
        problem = f"no usable kubeconfig at {shown}: {str(exc).splitlines()[0]}"
    if wanted in names and (need.cluster != "existing" or current_name == wanted):
        return Check("kube context", OK, f"{wanted} (cluster {names[wanted]}) in {shown}")
    problem = problem or (
        f"context '{wanted}' is not in {shown}"
        if wanted not in names
        else f"current context is '{current_name}', not '{wanted}'"
    )
    if need.cluster == "existing":
        fix = (
            f"kubectl config use-context {wanted}"
            if wanted in names
            else f"set KUBECONFIG to the kubeconfig of the site's cluster (context '{wanted}', "
            f"cluster.kube_context of {need.site.source or 'the site profile'})"
        )
        return Check("kube context", FAIL, f"{problem}; the site's existing cluster needs '{wanted}'", fix)
    creator = f"kind cluster platform-{env}" if need.cluster == "kind" else f"{need.cluster.upper()} cluster"
    return Check(
        "kube context",
        WARN,
        f"{wanted}: none yet ({problem}); created by apply ({creator}, kubeconfig .state/{env}/kubeconfig)",
    )


def kube_api_check(env: str) -> Check:
    """The env's kube context exists, is current, and its API server answers."""
    from platformctl.adapters import kube
    from platformctl.errors import KubernetesError

    try:
        client = kube.api_client(env)
    except KubernetesError as exc:
        return Check("kube API", WARN, f"not checked: {_split_fix(str(exc), '')[0]}")
    try:
        return Check("kube API", OK, f"reachable ({kube.reachable(client)})")
    except KubernetesError as exc:
        return Check(
            "kube API",
            FAIL,
            str(exc),
            f"start the cluster of context '{kube.expected_context(env)}' or fix the network to it",
        )


# --- Docker -----------------------------------------------------------------------------------------


def docker_check(need: Needs) -> Check:
    """`docker info` against DOCKER_HOST (or the default socket), with a short timeout."""
    why = need.docker
    where = os.environ.get("DOCKER_HOST") or "the default socket"
    unneeded = f"not needed ({need.cluster} cluster{'' if need.build else ', --no-build'})"
    binary = shutil.which("docker")
    if not binary:
        if not why:
            return Check("docker", OK, f"{unneeded}; no docker CLI on PATH")
        return Check(
            "docker", FAIL, f"no docker CLI on PATH; needed for {why}", "install Docker (CLI and daemon)"
        )
    try:
        result = subprocess.run(
            [binary, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=DOCKER_TIMEOUT,
            check=False,
        )
        version = result.stdout.strip() if result.returncode == 0 else ""
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        problem = lines[0] if lines else f"`docker info` exited {result.returncode}"
    except subprocess.TimeoutExpired:
        version, problem = "", f"no answer from the Docker daemon at {where} within {DOCKER_TIMEOUT}s"
    if version:
        return Check("docker", OK, f"daemon {version} at {where}" + (f"; needed for {why}" if why else ""))
    if not why:
        return Check("docker", OK, f"{unneeded}; {problem}")
    return Check(
        "docker",
        FAIL,
        f"{problem}; needed for {why}",
        "start Docker, or set DOCKER_HOST to a running daemon"
        + ("" if need.cluster == "kind" else " (or apply with --no-build when CI builds the images)"),
    )


# --- Terraform providers ----------------------------------------------------------------------------


def _strip_comments(text: str) -> str:
    return re.sub(r"(?m)(^|\s)(#|//).*$", "", text)


def _blocks(text: str, name: str) -> list[str]:
    """The bodies of every `name { ... }` block of HCL text (braces matched; enough for these files)."""
    bodies = []
    for match in re.finditer(rf'(?m)^\s*{name}\s*(?:"[^"]*"\s*)?\{{', text):
        depth = 1
        for index in range(match.end(), len(text)):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                bodies.append(text[match.end() : index])
                break
    return bodies


def stack_providers(stacks: Sequence[str], root: Path | None = None) -> dict[str, list[str]]:
    """stack -> the sources in its `required_providers` (terraform/stacks/<stack>/*.tf)."""
    base = (root or repo_root()) / "terraform" / "stacks"
    found: dict[str, list[str]] = {}
    for stack in stacks:
        text = "\n".join(_strip_comments(p.read_text()) for p in sorted((base / stack).glob("*.tf")))
        sources = {
            s
            for block in _blocks(text, "required_providers")
            for s in re.findall(r'source\s*=\s*"([^"]+)"', block)
        }
        found[stack] = sorted(sources)
    return found


def registry_host(source: str) -> str:
    """The registry a provider source comes from: its host part, else the public Terraform registry."""
    parts = source.split("/")
    return parts[0] if len(parts) == 3 else "registry." + "terraform.io"


def _provider_dir(mirror: Path, source: str) -> Path:
    *_, namespace, kind = source.split("/")
    return mirror / registry_host(source) / namespace / kind


def _cli_config(environ: Mapping[str, str]) -> tuple[str, list[Path]]:
    """The CLI configuration terraform reads (text without comments, files): TF_CLI_CONFIG_FILE, else
    ~/.terraformrc and ~/.terraform.d/*.tfrc (terraform 1.11 reads that folder only without the variable)."""
    override = environ.get("TF_CLI_CONFIG_FILE")
    home = Path(environ.get("HOME") or Path.home())
    files = (
        [Path(override)]
        if override
        else [home / ".terraformrc", *sorted((home / ".terraform.d").glob("*.tfrc"))]
    )
    read = [f for f in files if f.is_file()]
    return "\n".join(_strip_comments(f.read_text(errors="replace")) for f in read), read


def _implied_mirrors(environ: Mapping[str, str]) -> list[Path]:
    """The local directories terraform searches when the CLI config has no provider_installation."""
    home = Path(environ.get("HOME") or Path.home())
    data_home = environ.get("XDG_DATA_HOME") or str(home / ".local" / "share")
    data_dirs = (environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")
    return [
        home / ".terraform.d" / "plugins",
        *(Path(d) / "terraform" / "plugins" for d in [data_home, *data_dirs] if d),
    ]


def _connect(host: str, environ: Mapping[str, str]) -> str | None:
    """None when a TCP connection to host:443 (or to the HTTPS proxy terraform would use) opens."""
    proxy = environ.get("HTTPS_PROXY") or environ.get("https_proxy") or ""
    no_proxy = (environ.get("NO_PROXY") or environ.get("no_proxy") or "").replace(" ", "").split(",")
    bypass = any(
        e == "*" or host == e.lstrip(".") or host.endswith("." + e.lstrip(".")) for e in no_proxy if e
    )
    target, port, via = host, 443, ""
    if proxy and not bypass:
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        target = parsed.hostname or ""
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        via = f" through the proxy {target}:{port}"
    try:
        with socket.create_connection((target, port), timeout=CONNECT_TIMEOUT):
            return None
    except (OSError, ValueError) as exc:
        return f"{host}:443 unreachable{via} ({exc})"


def providers_check(stacks: Mapping[str, Sequence[str]], environ: Mapping[str, str] | None = None) -> Check:
    """Can `terraform init` of these stacks install their providers: from a configured mirror (filesystem
    mirrors are looked into), or else from their registry (a TCP connect)."""
    environ = os.environ if environ is None else environ
    label = "; ".join(f"{stack}: {', '.join(srcs)}" for stack, srcs in stacks.items() if srcs)
    providers = sorted({s for srcs in stacks.values() for s in srcs})
    if not providers:
        return Check(
            "terraform providers", OK, "not needed: apply runs no Terraform stack with providers here"
        )
    text, files = _cli_config(environ)
    installation = _blocks(text, "provider_installation")
    config = f"in {', '.join(str(f) for f in files)}" if files else "(no CLI config file)"
    if installation:
        body = "\n".join(installation)
        urls = [u for b in _blocks(body, "network_mirror") for u in re.findall(r'url\s*=\s*"([^"]+)"', b)]
        if urls:
            return Check(
                "terraform providers", OK, f"{label}: from the network mirror {', '.join(urls)} {config}"
            )
        mirrors = [
            Path(p)
            for b in _blocks(body, "filesystem_mirror")
            for p in re.findall(r'path\s*=\s*"([^"]+)"', b)
        ]
        direct = bool(_blocks(body, "direct"))
    else:
        mirrors, direct = _implied_mirrors(environ), True
    remaining = [p for p in providers if not any(_provider_dir(m, p).is_dir() for m in mirrors)]
    used = [m for m in mirrors if any(_provider_dir(m, p).is_dir() for p in providers)]
    mirrored = f" (mirrored ones from {', '.join(str(m) for m in used)})" if used else ""
    if not remaining:
        return Check(
            "terraform providers", OK, f"{label}: in the provider mirror {', '.join(map(str, used))}"
        )
    if not direct:
        return Check(
            "terraform providers",
            FAIL,
            f"{', '.join(remaining)} not in the provider mirror "
            f"{', '.join(str(m) for m in mirrors) or '(none)'} {config}",
            "add them to the mirror (`terraform providers mirror DIR` where the registry is reachable), "
            "see terraform/README.md",
        )
    problems = [p for p in (_connect(h, environ) for h in sorted({registry_host(s) for s in remaining})) if p]
    if problems:
        return Check(
            "terraform providers",
            FAIL,
            f"{', '.join(remaining)}: no provider mirror {config}, and " + "; ".join(problems),
            REGISTRY_FIX,
        )
    return Check("terraform providers", OK, f"{label}: registry reachable{mirrored}")


# --- the report -------------------------------------------------------------------------------------


def run(ctx: Context, versions: Versions, build: bool = True) -> int:
    """Print the tools table and the checks table; ConfigError (exit 3) naming the failed rows."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses: list[ToolStatus] = list(pool.map(lambda item: status(*item), versions.tools.items()))
    rows = [
        [
            s.name,
            "yes" if s.path else "MISSING",
            s.version or "-",
            s.required,
            OK if s.ok else FAIL,
            str(s.path or "-"),
        ]
        for s in statuses
    ]
    ctx.say(render_table(["tool", "found", "version", "required", "status", "path"], rows))
    site_row, profile = site_check()
    need = needs(ctx.env, profile, build)
    probes: list[tuple[str, Callable[[], Check]]] = [
        ("vault", lambda: vault_check(os.environ.get("VAULT_ADDR"), ctx.env)),
        ("vault auth", lambda: vault_auth_check(ctx.env)),
        ("kube context", lambda: kube_check(ctx.env, need)),
        ("kube API", lambda: kube_api_check(ctx.env)),
        ("docker", lambda: docker_check(need)),
        ("terraform providers", lambda: providers_check(stack_providers(need.stacks))),
    ]
    with ThreadPoolExecutor(max_workers=len(probes)) as pool:
        futures = [pool.submit(_guarded, name, probe) for name, probe in probes]
        checks = [tools_check(statuses), site_row, *(f.result() for f in futures)]
    ctx.say("")
    ctx.say(render_table(["check", "status", "detail"], [c.cells() for c in checks]))
    failed = [c for c in checks if not c.ok]
    if failed:
        names = [
            f"tools ({', '.join(s.name for s in statuses if not s.ok)})" if c.name == "tools" else c.name
            for c in failed
        ]
        raise ConfigError(
            f"{ctx.env} cannot be applied now: {', '.join(names)} failed; each row's detail names the fix"
        )
    return 0


def _guarded(name: str, probe: Callable[[], Check]) -> Check:
    """A probe's own error (e.g. a broken env file) becomes its row instead of ending the report."""
    try:
        return probe()
    except PlatformError as exc:
        problem, fix = _split_fix(str(exc), "see the message")
        return Check(name, FAIL, problem, fix)
