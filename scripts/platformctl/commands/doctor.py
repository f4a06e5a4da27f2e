"""`platformctl doctor`: can `apply` of ENV run now? Tools, site, Vault, kube context, Docker, providers."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.app import doctor
from platformctl.config import versions
from platformctl.context import Context

ROWS = """rows (ok, warn or FAIL; a FAIL row's detail ends with its fix):
  tools                every pinned tool found at its version (table above); fix: make setup
  site                 the site profile assumed (PLATFORMCTL_SITE / make SITE=FILE), or the defaults
  vault, vault auth    VAULT_ADDR answers and the login works (dev without VAULT_ADDR: apply starts
                       the local dev Vault)
  kube context         the env's context in the kubeconfig apply uses: FAIL when missing for a site's
                       existing cluster, warn when apply creates the cluster (kind, EKS)
  kube API             the context's API server answers (warn: not checked without a context)
  docker               `docker info` at DOCKER_HOST answers, when apply needs Docker (a kind cluster,
                       or building the service images: every apply without --no-build)
  terraform providers  the providers of the stacks apply runs (cluster unless the site names an
                       existing cluster, platform unless its installer is helm) can be installed: a
                       provider mirror in the Terraform CLI config (TF_CLI_CONFIG_FILE, ~/.terraformrc)
                       or a TCP connection to their registry (through HTTPS_PROXY when set)

exit status: 0 when no row fails (warnings allowed), 3 when any row fails (one error line names them)"""


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "doctor",
        help="can `apply` of ENV run now? tools, Vault, kube context, Docker, Terraform providers",
        description='Answer "can I apply this ENV now?" for this machine and the site profile: the tools\n'
        "(found, version, required), then one row per thing `apply` needs. Reads only: creates no\n"
        "cluster, downloads no provider.",
        epilog=ROWS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--no-build",
        action="store_true",
        help="answer for `apply --no-build` (make apply NO_BUILD=1): Docker is then needed for kind only",
    )
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    return doctor.run(ctx, versions.load(), not args.no_build)  # positional: tests stand in for run
