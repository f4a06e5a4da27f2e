# A provider-free root so that Python (platformctl, the e2e driver) can read the release plan with
# `terraform output -json releases` without the helm provider of stacks/platform.
module "release_plan" {
  source = "../../modules/release-plan"

  env            = var.env
  features       = var.features
  values_dir     = var.values_dir
  values_overlay = var.values_overlay
  timeouts       = var.timeouts
}
