"""`platformctl render`: helm template of ENV's own charts into reports/rendered/ENV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from platformctl.app import render


def register(verbs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(
        "render",
        help="render ENV's own charts into reports/rendered/ENV",
        description="Render every own chart of ENV's release plan with its values files (common, env, "
        "generated) using the pinned helm; one manifest per release.",
    )
    parser.add_argument("--out", type=Path, help="output directory (default reports/rendered/ENV)")
    parser.set_defaults(handler=lambda args, ctx: render.run(ctx, args.out))
    return parser
