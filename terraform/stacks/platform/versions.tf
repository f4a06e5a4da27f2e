terraform {
  required_version = ">= 1.10.0"

  # Remote state by default; dev uses local state through a generated backend_override.tf
  # (see terraform/README.md).
  backend "s3" {
    key = "platform/terraform.tfstate"
  }

  required_providers {
    helm = {
      source  = "hashicorp/helm"
      version = "3.1.2"
    }
  }
}
