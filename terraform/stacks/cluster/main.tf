# Every repository path starts at path.root/../../.. and never goes through abspath(): path.root is "." and the
# kind provider resolves kubeconfig_path against terraform's working directory, which is either this
# directory or platformctl's dev working directory terraform/.dev/cluster (both two levels below
# terraform/), so no machine path reaches the state.
locals {
  name     = coalesce(var.name, "platform-${var.env}")
  versions = yamldecode(file("${path.root}/../../../versions.yaml"))
  # The env's facts (cluster type, kube context, features) live in environments.yaml; a var may override.
  environment  = yamldecode(file("${path.root}/../../../environments.yaml")).environments[var.env]
  cluster_type = coalesce(var.cluster_type, local.environment.cluster_type)
  is_eks       = local.cluster_type == "eks"
  # kind and EKS run the same Kubernetes minor, both taken from the one pin in versions.yaml.
  node_image  = local.versions.kubernetes.kind_node_image
  k8s_version = regex("^kindest/node:v([0-9]+\\.[0-9]+)\\.", local.node_image)[0]

  # kind: the host ports 80/443 reach Traefik's fixed NodePorts, set once in values/<env>/traefik.yaml.
  traefik_values = yamldecode(file("${path.root}/../../../values/${var.env}/traefik.yaml"))
  # EKS: one registry repository per own image: services/<name>/ with its lock file (platformctl.app.images).
  own_image_repositories = [for name, image in local.versions.images : image.repository if fileexists("${path.root}/../../../services/${name}/constraints.txt")]
}

provider "kind" {}

provider "aws" {
  region = var.aws_region
  default_tags {
    tags = merge(var.tags, { env = var.env, "managed-by" = "terraform" })
  }

  # For kind clusters the provider must still configure, but it must never reach (or need) AWS.
  skip_credentials_validation = !local.is_eks
  skip_requesting_account_id  = !local.is_eks
  skip_metadata_api_check     = !local.is_eks
  access_key                  = local.is_eks ? null : "unused-for-kind"
  secret_key                  = local.is_eks ? null : "unused-for-kind"
}

module "kind" {
  source = "../../modules/cluster-kind"
  count  = local.is_eks ? 0 : 1

  name            = local.name
  node_image      = local.node_image
  workers         = var.kind_workers
  kubeconfig_path = coalesce(var.kubeconfig_path, "${path.root}/../../../.state/${var.env}/kubeconfig")
  ingress_node_ports = {
    http  = try(local.traefik_values.ports.web.nodePort, null)
    https = try(local.traefik_values.ports.websecure.nodePort, null)
  }
}

module "eks" {
  source = "../../modules/cluster-eks"
  count  = local.is_eks ? 1 : 0

  name                         = local.name
  kubernetes_version           = local.k8s_version
  ebs_csi_driver_version       = local.versions.eks_addons["aws-ebs-csi-driver"]
  availability_zones           = var.availability_zones
  vpc_cidr                     = var.vpc_cidr
  single_nat_gateway           = var.single_nat_gateway
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  node_group                   = var.node_group
  image_repository_names       = local.own_image_repositories
  tags                         = var.tags
}

locals {
  # Both modules expose the same outputs, so the platform stack does not care which one ran.
  cluster = {
    cluster_name           = one(concat(module.eks[*].cluster_name, module.kind[*].cluster_name))
    endpoint               = one(concat(module.eks[*].endpoint, module.kind[*].endpoint))
    cluster_ca_certificate = one(concat(module.eks[*].cluster_ca_certificate, module.kind[*].cluster_ca_certificate))
    kubeconfig             = one(concat(module.eks[*].kubeconfig, module.kind[*].kubeconfig))
  }
}
