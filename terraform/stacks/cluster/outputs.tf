output "cluster_name" {
  description = "Name of the cluster."
  value       = local.cluster.cluster_name
}

output "cluster_type" {
  description = "kind or eks."
  value       = local.cluster_type
}

output "endpoint" {
  description = "URL of the Kubernetes API server."
  value       = local.cluster.endpoint
}

output "cluster_ca_certificate" {
  description = "PEM CA certificate of the API server."
  value       = local.cluster.cluster_ca_certificate
}

output "kubeconfig" {
  description = "Kubeconfig; `platformctl` writes it to .state/<env>/kubeconfig (mode 0600) for the platform stack."
  value       = local.cluster.kubeconfig
  sensitive   = true
}

output "image_registry" {
  description = "eks: ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com) the own service images are pushed to; null for kind."
  value       = one(module.eks[*].image_registry)
}

output "image_repositories" {
  description = "eks: ECR repository URL per versions.yaml images.<name>.repository of the own services; {} for kind."
  value       = local.is_eks ? module.eks[0].image_repositories : {}
}
