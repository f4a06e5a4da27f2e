variable "releases" {
  description = "Ordered release plan, exactly as the release-plan module outputs it."
  type = list(object({
    name      = string
    namespace = string
    wave      = number
    needs     = list(string)
    chart = object({
      path       = string
      repository = string
      name       = string
      version    = string
    })
    skip_crds    = bool
    crds_of      = string
    values_files = list(string)
    timeout      = number
    autoscaling  = bool
  }))

  validation {
    condition     = alltrue([for r in var.releases : contains([0, 1, 2, 3, 4, 5], r.wave)])
    error_message = "Every release wave must be 0-5 (one helm_release block per wave in main.tf)."
  }
  validation {
    condition     = length(distinct([for r in var.releases : r.name])) == length(var.releases)
    error_message = "Release names must be unique."
  }
  validation {
    condition     = alltrue([for r in var.releases : (r.chart.path == null) != (r.chart.repository == null || r.chart.version == null)])
    error_message = "Each chart is either a local path or a repository with a pinned version."
  }
}

variable "repo_root" {
  description = "Repository root relative to terraform's working directory (stacks pass path.root/../../..); chart paths and values files are resolved against it."
  type        = string

  validation {
    condition     = !startswith(var.repo_root, "/") && fileexists("${var.repo_root}/versions.yaml")
    error_message = "The repo_root must be a relative path (local chart paths land in state) to a directory holding versions.yaml."
  }
}

variable "max_history" {
  description = "Helm release revisions kept per release (rollback depth)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_history >= 2 && var.max_history <= 50
    error_message = "The max_history must be between 2 and 50."
  }
}
