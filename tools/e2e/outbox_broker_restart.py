"""No login event lost while RabbitMQ restarts (issue 14): the RabbitMQ pod is deleted under the in-cluster
login load of load.py, and every login made before, during and after the outage must end up as exactly one
notification.

users-ms records each granted login with its event in its database (the outbox,
docs/adr/0007-login-event-outbox.md); its relay publishes the events when RabbitMQ is back and
notifications-ms writes one S3 object per event id. The check reads what really happened: the load Job's
count of successful logins, the load user's outbox rows (each login's event, when it was recorded and when
RabbitMQ confirmed it) through a port-forward to PostgreSQL, and the notification objects in the S3 store
with notifications' own key. Logins are put in a phase by their event's time against the moments the pod
was deleted and its successor was Ready (one clock: the harness runs on this machine).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import psycopg
from botocore.config import Config

from tools.e2e import load
from tools.e2e.cluster import E2EError
from tools.e2e.portforward import forward
from tools.e2e.resilience import postgres_password, test_user

JOB = "e2e-load-broker-restart"
LOAD_SECONDS = 150  # covers the logins before, the restart (a minute or so on the harness) and after it
DELETE_AFTER_SECONDS = 15
READY_TIMEOUT = 300.0
DELIVERY_TIMEOUT = 180.0  # the relay's back-off (30 s at most) plus the drain and the consumer
RABBITMQ = ("data", "app.kubernetes.io/name=rabbitmq")


@dataclass(frozen=True)
class OutboxFigures:
    """What the broker-restart check counted for its load user."""

    logins: int  # successful logins reported by the load Job
    failed_logins: int
    recorded: int  # login events in users' outbox
    published: int  # of those, confirmed by RabbitMQ (marked sent)
    delivered: int  # notification objects in S3, one per event id
    outage_seconds: float  # RabbitMQ pod deleted -> its successor Ready
    before: int  # logins by phase (their event's time)
    during: int
    after: int
    max_pending: int  # the most events of the user seen waiting in the outbox during the outage

    def rows(self) -> list[list[str]]:
        """Rows for the driver's resilience table."""
        return [
            [
                "RabbitMQ pod deleted under load",
                f"{self.outage_seconds:.0f}s until Ready again; logins {self.before} before, "
                f"{self.during} during, {self.after} after, {self.failed_logins} failed",
            ],
            [
                "login events (outbox) after the restart",
                f"{self.logins} logins, {self.recorded} recorded, {self.published} published, "
                f"{self.delivered} notifications (up to {self.max_pending} waited)",
            ],
        ]


def phases(times: list[datetime], deleted_at: datetime, ready_at: datetime) -> tuple[int, int, int]:
    """(before, during, after) the outage, by each event's time."""
    before = sum(t < deleted_at for t in times)
    after = sum(t > ready_at for t in times)
    return before, len(times) - before - after, after


def verdict(figures: OutboxFigures, event_ids: list[str], object_ids: list[str]) -> None:
    """E2EError unless every login is one event, published, and exactly one notification."""
    problems = []
    if figures.failed_logins or not figures.logins:
        problems.append(f"{figures.logins} logins ok, {figures.failed_logins} failed")
    if figures.recorded != figures.logins:
        problems.append(f"{figures.logins} logins but {figures.recorded} events recorded")
    if figures.published != figures.recorded:
        problems.append(f"{figures.recorded - figures.published} events never published")
    if sorted(object_ids) != sorted(event_ids):
        missing, extra = set(event_ids) - set(object_ids), set(object_ids) - set(event_ids)
        problems.append(f"notifications: {len(missing)} missing, {len(extra)} not from this load")
    if not (figures.before and figures.during and figures.after):
        problems.append(
            f"logins by phase {figures.before}/{figures.during}/{figures.after} (before/during/after): "
            "each needs some; raise LOAD_SECONDS if the restart outlasted the load"
        )
    if problems:
        raise E2EError("broker restart: " + "; ".join(problems))


def _rabbitmq_pod(core: Any) -> Any:
    pods = core.list_namespaced_pod(RABBITMQ[0], label_selector=RABBITMQ[1]).items
    running = [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]
    if len(running) != 1:
        raise E2EError(f"expected one running RabbitMQ pod in {RABBITMQ[0]}, found {len(running)}")
    return running[0]


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _outbox(conn: psycopg.Connection[Any], user_id: int) -> list[tuple[str, datetime, bool]]:
    """(event id, recorded at, published) of the user's login events, in id order."""
    rows = conn.execute(
        "SELECT event_id::text, occurred_at, sent_at IS NOT NULL FROM login_outbox"
        " WHERE user_id = %s ORDER BY id",
        (user_id,),
    ).fetchall()
    return [(str(r[0]), r[1], bool(r[2])) for r in rows]


def _restart_broker(core: Any, conn: psycopg.Connection[Any], user_id: int) -> tuple[datetime, datetime, int]:
    """Delete the RabbitMQ pod, wait for its successor to be Ready; (deleted at, ready at, most pending)."""
    old = _rabbitmq_pod(core)
    deleted_at = datetime.now(UTC)
    core.delete_namespaced_pod(old.metadata.name, RABBITMQ[0])
    deadline, most_pending = time.monotonic() + READY_TIMEOUT, 0
    while time.monotonic() < deadline:
        most_pending = max(most_pending, sum(not sent for _, _, sent in _outbox(conn, user_id)))
        pods = core.list_namespaced_pod(RABBITMQ[0], label_selector=RABBITMQ[1]).items
        if any(p.metadata.uid != old.metadata.uid and _ready(p) for p in pods):
            return deleted_at, datetime.now(UTC), most_pending
        time.sleep(1)
    raise E2EError(f"RabbitMQ not Ready {READY_TIMEOUT:.0f}s after its pod was deleted")


def _s3_client(core: Any, endpoint: str, region: str) -> Any:
    """boto3 on notifications' own key (read through the Kubernetes API, never printed)."""
    data = core.read_namespaced_secret("notifications-s3", "apps").data
    access, secret = (base64.b64decode(data[k]).decode() for k in ("access-key", "secret-key"))
    config = Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}, connect_timeout=5)
    credentials = {"aws_access_key_id": access, "aws_secret_access_key": secret}
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config, **credentials)


def _notification_ids(s3: Any, bucket: str, user_id: int) -> list[str]:
    prefix, ids, token = f"users/{user_id}/", [], None
    while True:
        page = s3.list_objects_v2(
            Bucket=bucket, Prefix=prefix, **({"ContinuationToken": token} if token else {})
        )
        ids += [item["Key"].removeprefix(prefix).removesuffix(".json") for item in page.get("Contents", [])]
        token = page.get("NextContinuationToken")
        if not token:
            return ids


def run_broker_restart(core: Any, batch: Any, kubeconfig: Path, image: str) -> OutboxFigures:
    """Delete the RabbitMQ pod while logins run; every login must become exactly one notification.

    `image`: the auth image (runs the load loop), as for resilience.run_pod_deletion. Needs apply done
    (users, auth, notifications, postgresql, rabbitmq and the site's S3 store serving).
    """
    email, password, user_id = test_user(kubeconfig)
    load.login_secret(core, email, password)
    settings = core.read_namespaced_config_map("notifications", "apps").data
    database = core.read_namespaced_config_map("users", "apps").data["USERS_DB_NAME"]
    s3_url = urlparse(settings["NOTIFICATIONS_S3_ENDPOINT"])
    s3_service = (s3_url.hostname or "").split(".")
    load.start(batch, core, JOB, image, LOAD_SECONDS)
    try:
        with forward(kubeconfig, "data", "postgresql", 5432) as pg:
            host, port = pg.removeprefix("http://").split(":")
            dsn = psycopg.conninfo.make_conninfo(
                host=host, port=port, dbname=database, user="postgres", password=postgres_password(core)
            )
            with psycopg.connect(dsn, autocommit=True) as conn:
                time.sleep(DELETE_AFTER_SECONDS)
                deleted_at, ready_at, most_pending = _restart_broker(core, conn, user_id)
                summary = load.result(core, JOB, LOAD_SECONDS)
                deadline = time.monotonic() + DELIVERY_TIMEOUT
                with forward(kubeconfig, s3_service[1], s3_service[0], s3_url.port or 80) as s3_endpoint:
                    s3 = _s3_client(core, s3_endpoint, settings["NOTIFICATIONS_S3_REGION"])
                    bucket = settings["NOTIFICATIONS_S3_BUCKET"]
                    while True:
                        events = _outbox(conn, user_id)
                        delivered = _notification_ids(s3, bucket, user_id)
                        done = all(sent for _, _, sent in events) and len(delivered) >= len(events)
                        if done or time.monotonic() > deadline:
                            break
                        time.sleep(2)
    finally:
        load.delete(batch, JOB)
    before, during, after = phases([at for _, at, _ in events], deleted_at, ready_at)
    figures = OutboxFigures(
        logins=int(summary["ok"]),
        failed_logins=int(summary["failed"]),
        recorded=len(events),
        published=sum(sent for _, _, sent in events),
        delivered=len(delivered),
        outage_seconds=(ready_at - deleted_at).total_seconds(),
        before=before,
        during=during,
        after=after,
        max_pending=most_pending,
    )
    verdict(figures, [event_id for event_id, _, _ in events], delivered)
    return figures
