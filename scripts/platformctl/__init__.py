"""platformctl: the glue between Vault, Kubernetes, Helm values and Terraform for this repository."""

__version__ = "0.1.0"
