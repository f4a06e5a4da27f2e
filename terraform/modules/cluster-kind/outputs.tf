output "cluster_name" {
  description = "Name of the kind cluster."
  value       = kind_cluster.this.name
}

output "endpoint" {
  description = "URL of the Kubernetes API server."
  value       = kind_cluster.this.endpoint
}

output "cluster_ca_certificate" {
  description = "PEM CA certificate of the API server."
  value       = kind_cluster.this.cluster_ca_certificate
}

output "kubeconfig" {
  description = "Kubeconfig of the cluster (holds a client key, hence sensitive)."
  value       = kind_cluster.this.kubeconfig
  sensitive   = true
}
