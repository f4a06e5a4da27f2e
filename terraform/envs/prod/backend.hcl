# S3 state with native locking (Terraform >= 1.10) and server-side encryption, shared by both stacks
# (each stack's backend block sets its own `key`). Credentials come from the environment, never here.
bucket       = "platform-terraform-state-prod"
region       = "eu-west-1"
use_lockfile = true
encrypt      = true
# Any S3-compatible store works (e.g. MinIO): uncomment and point at it.
# endpoints      = { s3 = "https://minio.example.internal:9000" }
# use_path_style = true
