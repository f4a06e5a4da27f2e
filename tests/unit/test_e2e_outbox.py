"""The broker-restart check's own logic (no cluster): logins are put in the right phase, and the verdict
refuses every way a login event could be lost, doubled or unproven."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tools.e2e.cluster import E2EError
from tools.e2e.outbox_broker_restart import OutboxFigures, phases, verdict

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
COUNTS = {"logins": 3, "failed_logins": 0, "recorded": 3, "published": 3, "delivered": 3}
GOOD = OutboxFigures(**COUNTS, outage_seconds=40.0, before=1, during=1, after=1, max_pending=1)
IDS = ["a", "b", "c"]


def test_phases_split_on_deletion_and_readiness() -> None:
    times = [T0 - timedelta(seconds=1), T0 + timedelta(seconds=5), T0 + timedelta(seconds=50), T0]
    assert phases(times, deleted_at=T0, ready_at=T0 + timedelta(seconds=40)) == (1, 2, 1)


def test_verdict_accepts_one_notification_per_login() -> None:
    verdict(GOOD, IDS, list(reversed(IDS)))


@pytest.mark.parametrize(
    ("figures", "objects", "message"),
    [
        (replace(GOOD, failed_logins=1), IDS, "1 failed"),
        (replace(GOOD, recorded=2), IDS[:2], "3 logins but 2 events recorded"),
        (replace(GOOD, published=2), IDS, "1 events never published"),
        (GOOD, IDS[:2], "1 missing, 0 not from this load"),
        (GOOD, [*IDS, "d"], "0 missing, 1 not from this load"),
        (replace(GOOD, after=0, during=2), IDS, "raise LOAD_SECONDS"),
    ],
)
def test_verdict_refuses(figures: OutboxFigures, objects: list[str], message: str) -> None:
    with pytest.raises(E2EError, match=message):
        verdict(figures, IDS, objects)
