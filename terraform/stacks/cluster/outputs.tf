output "cluster_name" {
  description = "Name of the cluster."
  value       = local.cluster.cluster_name
}

output "cluster_type" {
  description = "kind or eks."
  value       = var.cluster_type
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
