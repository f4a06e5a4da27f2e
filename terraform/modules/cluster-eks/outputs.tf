output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "endpoint" {
  description = "URL of the Kubernetes API server."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_ca_certificate" {
  description = "PEM CA certificate of the API server."
  value       = base64decode(aws_eks_cluster.this.certificate_authority[0].data)
}

output "kubeconfig" {
  description = "Kubeconfig that authenticates through `aws eks get-token` (no static credential inside)."
  value       = local.kubeconfig
  sensitive   = true
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider for IRSA."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "ebs_csi_role_arn" {
  description = "ARN of the IAM role the EBS CSI driver's controller assumes (IRSA)."
  value       = aws_iam_role.ebs_csi.arn
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (nodes), one per availability zone."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (load balancers, NAT), one per availability zone."
  value       = aws_subnet.public[*].id
}

output "image_registry" {
  description = "ECR registry host the own service images are pushed to: <account>.dkr.ecr.<region>.amazonaws.com."
  value       = local.image_registry
}

output "image_repositories" {
  description = "ECR repository URL per repository name (versions.yaml images.<name>.repository)."
  value       = { for name, repo in aws_ecr_repository.this : name => repo.repository_url }
}
