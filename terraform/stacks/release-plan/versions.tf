terraform {
  required_version = ">= 1.10.0"

  # Local state at a path the caller chooses (`-backend-config=path=...`); the state holds only outputs.
  backend "local" {}
}
