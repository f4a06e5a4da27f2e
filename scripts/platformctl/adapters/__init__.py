"""The outside world behind small typed functions: Vault, Kubernetes, Terraform, Helm, S3, PostgreSQL,
RabbitMQ, the pinned tools, files. Imports config/ only (and the core: errors, context).
"""
