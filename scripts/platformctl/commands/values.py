"""`platformctl values`: write values/generated/<env>/<release>.yaml for every planned release."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from platformctl import release_plan, secret_map, values, vault, versions
from platformctl.context import Context, render_table
from platformctl.paths import repo_root


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "values",
        help="generate and validate the per-release values files for ENV",
        description="Merge values/common + values/<env> + generated data (secret checksums, image tags from "
        "versions.yaml), validate against each own chart's values.schema.json and write "
        "values/generated/<env>/<release>.yaml atomically. Never writes a secret value.",
    )
    parser.add_argument(
        "--releases",
        type=Path,
        metavar="FILE",
        help="release list as JSON (`terraform output -json releases`); "
        "default: apply terraform/stacks/release-plan for ENV",
    )
    parser.set_defaults(handler=handle)
    return parser


def generate(ctx: Context, releases: list[values.Release], root: Path) -> list[tuple[str, Path, bool]]:
    smap = secret_map.load()
    with ctx.step(f"values ({ctx.env}): read secret versions"):
        client = vault.connect(ctx.env, smap.mount)
        entries = client.read_many(values.needed_paths(smap, releases))
    with ctx.step(f"values ({ctx.env}): merge, validate, write"):
        images = values.pinned_images(versions.load())
        return values.run(releases, smap, entries, images, root, ctx.dry_run)


def handle(args: argparse.Namespace, ctx: Context) -> int:
    if args.releases:
        releases = release_plan.from_file(args.releases)
    else:
        with ctx.step(f"release plan ({ctx.env})"):
            releases = release_plan.from_terraform(ctx.env)
    root = repo_root()
    results = generate(ctx, releases, root)
    rows = [
        [name, str(path.relative_to(root)), "yes" if changed else "no"] for name, path, changed in results
    ]
    ctx.say(render_table(["release", "file", "changed"], rows))
    return 0
