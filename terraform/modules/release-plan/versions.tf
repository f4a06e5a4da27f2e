terraform {
  # Provider-free on purpose: the plan is pure data, so `terraform test` runs anywhere.
  required_version = ">= 1.10.0"
}
