variable "env" {
  description = "Environment name, one of environments.yaml `environments` (dev, staging, prod)."
  type        = string

  validation {
    condition     = contains(keys(yamldecode(file("${path.root}/../../../environments.yaml")).environments), var.env)
    error_message = "The env must be one of the environments of environments.yaml: ${join(", ", keys(yamldecode(file("${path.root}/../../../environments.yaml")).environments))}."
  }
}

variable "kubeconfig_path" {
  description = "Kubeconfig written by platformctl from the cluster stack's `kubeconfig` output, relative to the stack's working directory."
  type        = string

  validation {
    condition     = length(trimspace(var.kubeconfig_path)) > 0
    error_message = "The kubeconfig_path must not be empty."
  }
}

variable "kube_context" {
  description = "Context inside the kubeconfig; null takes the env's `kube_context` from environments.yaml (a site profile's existing cluster passes its own)."
  type        = string
  default     = null
}

variable "features" {
  description = "Feature switches for the release plan (null fields take the env default)."
  type = object({
    monitoring     = optional(bool)
    ingress        = optional(bool)
    tls            = optional(bool)
    metrics_server = optional(bool)
    autoscaling    = optional(bool)
  })
  default  = {}
  nullable = false
}

variable "values_overlay" {
  description = "A site profile's values overlay folder, relative to the repository (see modules/release-plan); platformctl sets it."
  type        = string
  default     = null
}

variable "timeouts" {
  description = "Per-release Helm timeout overrides in seconds."
  type        = map(number)
  default     = {}
  nullable    = false
}

variable "max_history" {
  description = "Helm release revisions kept per release."
  type        = number
  default     = 10

  validation {
    condition     = var.max_history >= 2 && var.max_history <= 50
    error_message = "The max_history must be between 2 and 50."
  }
}
