variable "env" {
  description = "Environment name, one of environments.yaml `environments` (dev, staging, prod)."
  type        = string

  validation {
    condition     = contains(keys(yamldecode(file("${path.root}/../../../environments.yaml")).environments), var.env)
    error_message = "The env must be one of the environments of environments.yaml: ${join(", ", keys(yamldecode(file("${path.root}/../../../environments.yaml")).environments))}."
  }
}

variable "cluster_type" {
  description = "kind (local Docker) or eks (AWS); null takes the env's `cluster_type` from environments.yaml."
  type        = string
  default     = null

  validation {
    condition     = var.cluster_type == null || contains(["kind", "eks"], coalesce(var.cluster_type, "kind"))
    error_message = "The cluster_type must be kind or eks."
  }
}

variable "name" {
  description = "Cluster name; null means platform-<env>."
  type        = string
  default     = null
}

variable "kubeconfig_path" {
  description = "kind only: where the kubeconfig is written, relative to terraform's working directory (an absolute path lands in state); null means .state/<env>/kubeconfig in the repository."
  type        = string
  default     = null
}

variable "kind_workers" {
  description = "kind only: number of worker nodes."
  type        = number
  default     = 1

  validation {
    condition     = var.kind_workers >= 0 && var.kind_workers <= 5
    error_message = "The kind_workers count must be from 0 to 5."
  }
}

variable "aws_region" {
  description = "eks only: AWS region."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "The aws_region must look like eu-west-1."
  }
}

variable "availability_zones" {
  description = "eks only: availability zones for the subnets."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for az in var.availability_zones : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$", az))])
    error_message = "Each availability zone must look like eu-west-1a."
  }
  validation {
    condition     = coalesce(var.cluster_type, yamldecode(file("${path.root}/../../../environments.yaml")).environments[var.env].cluster_type) != "eks" || length(var.availability_zones) >= 2
    error_message = "At least two availability_zones are required when cluster_type is eks."
  }
}

variable "vpc_cidr" {
  description = "eks only: VPC CIDR."
  type        = string
  default     = "10.40.0.0/16"
}

variable "single_nat_gateway" {
  description = "eks only: one shared NAT gateway instead of one per AZ."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "eks only: CIDRs allowed to reach the public API endpoint (empty: private endpoint only)."
  type        = list(string)
  default     = []
}

variable "node_group" {
  description = "eks only: managed node group sizing."
  type = object({
    min_size       = number
    max_size       = number
    desired_size   = number
    instance_types = list(string)
    disk_size      = optional(number, 50)
  })
  default = null

  validation {
    condition     = coalesce(var.cluster_type, yamldecode(file("${path.root}/../../../environments.yaml")).environments[var.env].cluster_type) != "eks" || var.node_group != null
    error_message = "The node_group is required when cluster_type is eks."
  }
}

variable "tags" {
  description = "eks only: extra tags on every AWS resource."
  type        = map(string)
  default     = {}
}
