locals {
  repo_root = abspath("${path.root}/../../..")
}

provider "kubernetes" {
  config_path    = var.kubeconfig_path
  config_context = var.kube_context
}

provider "helm" {
  kubernetes = {
    config_path    = var.kubeconfig_path
    config_context = var.kube_context
  }
}

module "release_plan" {
  source = "../../modules/release-plan"

  env       = var.env
  features  = var.features
  timeouts  = var.timeouts
  repo_root = local.repo_root
}

module "platform" {
  source = "../../modules/platform"

  releases    = module.release_plan.releases
  repo_root   = local.repo_root
  max_history = var.max_history
}
