variable "env" {
  description = "Environment name, one of environments.yaml `environments` (dev, staging, prod)."
  type        = string

  validation {
    condition     = contains(keys(yamldecode(file("${path.module}/../../../environments.yaml")).environments), var.env)
    error_message = "The env must be one of the environments of environments.yaml: ${join(", ", keys(yamldecode(file("${path.module}/../../../environments.yaml")).environments))}."
  }
}

variable "features" {
  description = "Feature switches; a null field takes the environment's default (see README)."
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

variable "repo_root" {
  description = "Repository root holding versions.yaml and charts/, best relative to the working directory (no machine path in state); null means three levels above this module."
  type        = string
  default     = null

  validation {
    condition     = var.repo_root == null || fileexists("${coalesce(var.repo_root, ".")}/versions.yaml")
    error_message = "The repo_root must be a directory that contains versions.yaml."
  }
}

variable "values_dir" {
  description = "Values directory (common/, <env>/, generated/<env>/), relative to repo_root unless absolute."
  type        = string
  default     = "values"
  nullable    = false

  validation {
    condition     = length(trimspace(var.values_dir)) > 0
    error_message = "The values_dir must not be empty."
  }
}

variable "values_overlay" {
  description = "Folder of a site profile's <release>.yaml overrides, relative to repo_root; layered after the generated values. Null: none."
  type        = string
  default     = null

  validation {
    condition     = var.values_overlay == null || can(regex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$", coalesce(var.values_overlay, "x")))
    error_message = "The values_overlay must be a relative folder path (letters, digits, . _ - and /)."
  }
}

variable "timeouts" {
  description = "Per-release Helm timeout overrides in seconds, keyed by release name."
  type        = map(number)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for seconds in values(var.timeouts) : seconds >= 60 && seconds <= 3600])
    error_message = "Every timeout must be between 60 and 3600 seconds."
  }
}
