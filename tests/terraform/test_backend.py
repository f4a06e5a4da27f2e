"""The staging/prod backend.hcl against a real S3 API (SeaweedFS): state lands encrypted, locking works.

Only the endpoint, bucket and the skip_* settings that an S3-compatible store needs are overridden by
a second -backend-config file; use_lockfile and encrypt come from the committed backend.hcl.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.terraform.tfkit import REPO_ROOT, TERRAFORM_DIR, run_tf, terraform_env

FIXTURE = REPO_ROOT / "tests" / "terraform" / "fixtures" / "s3-backend-root"
KEY = "backend-test/terraform.tfstate"


@pytest.fixture()
def s3_backend(tmp_path: Path, sse_s3_server: Any) -> tuple[Path, dict[str, str], Any, str]:
    bucket = f"tfstate-{tmp_path.name.lower().replace('_', '-')}"[:60]
    client = boto3.client(
        "s3",
        endpoint_url=sse_s3_server.endpoint,
        region_name=sse_s3_server.region,
        aws_access_key_id=sse_s3_server.access_key,
        aws_secret_access_key=sse_s3_server.secret_key,
    )
    client.create_bucket(Bucket=bucket)
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    override = tmp_path / "override.hcl"
    override.write_text(
        f'bucket = "{bucket}"\nregion = "{sse_s3_server.region}"\n'
        f'endpoints = {{ s3 = "{sse_s3_server.endpoint}" }}\n'
        "use_path_style = true\nskip_credentials_validation = true\nskip_requesting_account_id = true\n"
        "skip_metadata_api_check = true\nskip_region_validation = true\nskip_s3_checksum = true\n"
    )
    env = terraform_env(tmp_path / "tf")
    env.update(
        AWS_ACCESS_KEY_ID=sse_s3_server.access_key,
        AWS_SECRET_ACCESS_KEY=sse_s3_server.secret_key,
        AWS_EC2_METADATA_DISABLED="true",
    )
    backend = TERRAFORM_DIR / "envs" / "staging" / "backend.hcl"
    run_tf(["init", "-input=false", f"-backend-config={backend}", f"-backend-config={override}"], root, env)
    return root, env, client, bucket


def test_state_is_stored_encrypted(s3_backend: tuple[Path, dict[str, str], Any, str]) -> None:
    root, env, client, bucket = s3_backend
    run_tf(["apply", "-auto-approve", "-input=false", "-var=marker=stored-in-s3"], root, env)
    stored = client.get_object(Bucket=bucket, Key=KEY)
    state = json.loads(stored["Body"].read())
    assert state["outputs"]["marker"]["value"] == "stored-in-s3"
    assert stored.get("ServerSideEncryption") == "AES256", (
        "encrypt = true must request server-side encryption"
    )
    listed = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert f"{KEY}.tflock" not in listed, f"lock file left behind: {listed}"


def test_lockfile_blocks_a_second_writer(s3_backend: tuple[Path, dict[str, str], Any, str]) -> None:
    root, env, client, bucket = s3_backend
    lock = {"ID": "held-by-test", "Operation": "OperationTypeApply", "Who": "test", "Version": "1.11.4"}
    client.put_object(Bucket=bucket, Key=f"{KEY}.tflock", Body=json.dumps(lock).encode())
    proc = run_tf(["plan", "-input=false", "-lock-timeout=0s", "-var=marker=x"], root, env, check=False)
    assert proc.returncode != 0
    assert "Error acquiring the state lock" in proc.stderr, proc.stderr


def test_dev_override_keeps_state_local(tmp_path: Path) -> None:
    """The dev recipe of terraform/README.md: backend_override.tf + envs/dev/backend.hcl + a state path."""
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    (root / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    state = tmp_path / "state" / "cluster.tfstate"
    env = terraform_env(tmp_path / "tf")
    backend = TERRAFORM_DIR / "envs" / "dev" / "backend.hcl"
    run_tf(["init", "-input=false", f"-backend-config={backend}", f"-backend-config=path={state}"], root, env)
    run_tf(["apply", "-auto-approve", "-input=false", "-var=marker=local"], root, env)
    assert json.loads(state.read_text())["outputs"]["marker"]["value"] == "local"
