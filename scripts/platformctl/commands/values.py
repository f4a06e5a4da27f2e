"""`platformctl values`: write values/generated/<env>/<release>.yaml for every planned release."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.app import deploy, release_plan
from platformctl.commands import arguments
from platformctl.config import site
from platformctl.context import Context


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "values",
        help="generate and validate the per-release values files for ENV",
        description="Merge values/common + values/<env> + generated data (secret checksums; image tags: "
        "the service images' content tags, versions.yaml for the others; the Secret mounts and *_FILE "
        "settings values/secrets-map.yaml gives each release) + the site's overlay, check that each "
        "release names exactly the Secrets the map gives it, validate against each own chart's "
        "values.schema.json and write values/generated/<env>/<release>.yaml atomically. Never writes a "
        "secret value.",
    )
    arguments.add_releases(parser)
    parser.set_defaults(handler=handle)
    return parser


def handle(args: argparse.Namespace, ctx: Context) -> int:
    run = deploy.Deployment(ctx, site.load())
    if args.releases:
        run.releases = release_plan.from_file(args.releases)
    run.values()
    return 0
