terraform {
  required_version = ">= 1.10.0"

  # Remote state by default (staging, prod: envs/<env>/backend.hcl). Dev switches to local state with
  # a generated backend_override.tf (see terraform/README.md), so a forgotten flag never puts
  # production state on a laptop.
  backend "s3" {
    key = "cluster/terraform.tfstate"
  }

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
    kind = {
      source  = "tehcyx/kind"
      version = "0.9.0"
    }
  }
}
