variable "env" {
  description = "Environment name: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "The env must be one of dev, staging, prod."
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
