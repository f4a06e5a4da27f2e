output "releases" {
  description = "Ordered releases (by wave): name, namespace, wave, needs, chart, skip_crds, crds_of, values_files, timeout, autoscaling."
  value       = local.releases

  precondition {
    condition     = length(local.missing_files) == 0
    error_message = "Missing values file(s): ${join(", ", local.missing_files)}."
  }
  precondition {
    condition     = length(local.missing_charts) == 0
    error_message = "No pinned chart in versions.yaml `charts:` for: ${join(", ", local.missing_charts)}."
  }
  precondition {
    condition     = length(local.crd_gaps) == 0
    error_message = "CRD release missing, not needed, or without a CRD chart in versions.yaml (charts.<name>.crds) for: ${join(", ", local.crd_gaps)}."
  }
  precondition {
    condition     = length(local.bad_order) == 0
    error_message = "Release(s) not in a later wave than what they need: ${join(", ", local.bad_order)}."
  }
  precondition {
    condition     = length(local.unknown_timeouts) == 0
    error_message = "Timeout given for unknown release(s): ${join(", ", local.unknown_timeouts)}."
  }
}

output "release_names" {
  description = "Release names in install order."
  value       = [for r in local.releases : r.name]
}

output "namespaces" {
  description = "Distinct namespaces the planned releases install into."
  value       = distinct([for r in local.releases : r.namespace])
}

output "features" {
  description = "Effective feature switches after applying the environment defaults."
  value       = local.features
}
