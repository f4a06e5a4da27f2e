"""What the services' schemathesis tests (services/*/tests/test_*_schemathesis.py) share: how a committed
OpenAPI document is loaded and bounded, and the tally of cases and server errors each module reports.

Every run is seeded and derandomized (the same cases each time, no example database), offline (only the
service under test on the loopback) and bounded: `MAX_EXAMPLES` per operation in the fuzzing phase, on
top of the coverage phase's boundary and negative cases, which the schema itself bounds.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import schemathesis
from schemathesis import Case
from schemathesis.checks import CheckFunction
from schemathesis.config import HealthCheck
from schemathesis.specs.openapi.checks import positive_data_acceptance

# A deeper or different search by hand: `SCHEMATHESIS_SEED=7 SCHEMATHESIS_MAX_EXAMPLES=500 pytest ...`;
# the suite runs the defaults.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20261122"))
# Schema-valid input that a service may still refuse with a 422 for reasons JSON Schema cannot express:
# bcrypt's 72 bytes of UTF-8, RFC 5321's octet limits, email-validator's reserved domains (`.test`).
# A 5xx is never excused: `not_a_server_error` and every other check stay on.
EXCLUDED_CHECKS: list[CheckFunction] = [positive_data_acceptance]


def configured(spec: Path) -> schemathesis.BaseSchema:
    """The committed spec with the bounds above; loaded at import (pytest collects one test per operation),
    so the service's URL and token are given to each call (`Tally.call_and_validate`)."""
    loaded = schemathesis.openapi.from_path(spec)
    # `too_slow` times the data generation: on a loaded CI machine it would fail a run that found nothing.
    loaded.config.update(request_timeout=10, suppress_health_check=[HealthCheck.too_slow])
    loaded.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
    loaded.config.seed = SEED
    return loaded


@dataclass
class Tally:
    """Cases sent and 5xx answers seen for one service; printed when its module ends (`pytest -s`)."""

    service: str
    statuses: Counter[int] = field(default_factory=Counter)

    def call_and_validate(self, case: Case, base_url: str, headers: dict[str, str]) -> None:
        response = case.call(base_url=base_url, headers=headers)
        self.statuses[response.status_code] += 1
        case.validate_response(response, excluded_checks=EXCLUDED_CHECKS, headers=headers)

    @property
    def cases(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def report(self) -> None:
        by_status = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        line = f"schemathesis {self.service}: {self.cases} cases, {self.server_errors} 5xx ({by_status})"
        print(f"\n{line}", file=sys.stderr)
