variable "name" {
  description = "Cluster name; also the prefix of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,37}[a-z0-9]$", var.name))
    error_message = "The name must be 3-39 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "kubernetes_version" {
  description = "EKS control plane version as MAJOR.MINOR (the stack derives it from versions.yaml)."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]+$", var.kubernetes_version))
    error_message = "The kubernetes_version must look like 1.33."
  }
}

variable "ebs_csi_driver_version" {
  description = "Version of the aws-ebs-csi-driver EKS add-on (the stack passes versions.yaml eks_addons)."
  type        = string

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+-eksbuild\\.[0-9]+$", var.ebs_csi_driver_version))
    error_message = "The ebs_csi_driver_version must be an exact add-on version like v1.47.0-eksbuild.1."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread subnets over (given, so no AWS lookup happens at plan time)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "Give 2 to 6 distinct availability zones."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC; split into one public and one private subnet per availability zone."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "The vpc_cidr must be a valid IPv4 CIDR of size /20 or larger."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper, staging) instead of one per AZ (prod)."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public API endpoint; empty keeps the endpoint private only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.endpoint_public_access_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "Every endpoint CIDR must be a valid IPv4 CIDR and not 0.0.0.0/0."
  }
}

variable "node_group" {
  description = "Managed node group sizing: min, max and desired size, instance types, disk size in GiB."
  type = object({
    min_size       = number
    max_size       = number
    desired_size   = number
    instance_types = list(string)
    disk_size      = optional(number, 50)
  })

  validation {
    condition     = var.node_group.min_size >= 1 && var.node_group.min_size <= var.node_group.desired_size && var.node_group.desired_size <= var.node_group.max_size
    error_message = "The node_group sizes must satisfy 1 <= min_size <= desired_size <= max_size."
  }
  validation {
    condition     = length(var.node_group.instance_types) > 0 && var.node_group.disk_size >= 20
    error_message = "The node_group needs at least one instance type and a disk of 20 GiB or more."
  }
}

variable "log_retention_days" {
  description = "Retention of the control plane and VPC flow log groups, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([90, 180, 365, 400, 545, 731, 1827, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be one of 90, 180, 365, 400, 545, 731, 1827, 3653."
  }
}

variable "image_repository_names" {
  description = "ECR repositories to create, one per own service image (the stack passes versions.yaml images.<name>.repository)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for name in var.image_repository_names : length(name) >= 2 && length(name) <= 256 && can(regex("^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$", name))])
    error_message = "Each image repository name must be a valid ECR name: lowercase path segments like platform/users."
  }
  validation {
    condition     = length(distinct(var.image_repository_names)) == length(var.image_repository_names)
    error_message = "The image repository names must be distinct."
  }
}

variable "image_retention_count" {
  description = "Images kept per repository; the lifecycle policy expires older ones."
  type        = number
  default     = 30

  validation {
    condition     = var.image_retention_count >= 1 && var.image_retention_count <= 1000 && floor(var.image_retention_count) == var.image_retention_count
    error_message = "The image_retention_count must be a whole number from 1 to 1000."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
