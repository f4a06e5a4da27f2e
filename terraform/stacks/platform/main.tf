locals {
  # Relative to terraform's working directory, never abspath(): local chart paths are stored in state
  # (helm_release.chart). path.root is "." here, and this resolves the same from terraform/stacks/platform
  # and from the dev working directory terraform/.dev/platform (both two levels below terraform/).
  repo_root = "${path.root}/../../.."
  # The env's facts (cluster type, kube context, features) live in environments.yaml.
  environment = yamldecode(file("${local.repo_root}/environments.yaml")).environments[var.env]
}

# Namespaces are not created here: platformctl creates them (values/namespaces.yaml) before any Secret.
provider "helm" {
  kubernetes = {
    config_path    = var.kubeconfig_path
    config_context = coalesce(var.kube_context, local.environment.kube_context)
  }
}

module "release_plan" {
  source = "../../modules/release-plan"

  env            = var.env
  features       = var.features
  timeouts       = var.timeouts
  repo_root      = local.repo_root
  values_overlay = var.values_overlay
}

module "platform" {
  source = "../../modules/platform"

  releases    = module.release_plan.releases
  repo_root   = local.repo_root
  max_history = var.max_history
}
