variable "env" {
  description = "Environment name, one of environments.yaml `environments` (dev, staging, prod)."
  type        = string

  validation {
    condition     = contains(keys(yamldecode(file("${path.root}/../../../environments.yaml")).environments), var.env)
    error_message = "The env must be one of the environments of environments.yaml: ${join(", ", keys(yamldecode(file("${path.root}/../../../environments.yaml")).environments))}."
  }
}

variable "features" {
  description = "Feature switches passed to the release-plan module (null fields take the env default)."
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

variable "values_dir" {
  description = "Values directory relative to the repository root (or absolute)."
  type        = string
  default     = "values"
  nullable    = false

  validation {
    condition     = length(trimspace(var.values_dir)) > 0
    error_message = "The values_dir must not be empty."
  }
}

variable "values_overlay" {
  description = "A site profile's values overlay folder, relative to the repository (see modules/release-plan)."
  type        = string
  default     = null
}

variable "timeouts" {
  description = "Per-release Helm timeout overrides in seconds."
  type        = map(number)
  default     = {}
  nullable    = false
}
