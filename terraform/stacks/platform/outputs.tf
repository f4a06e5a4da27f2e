output "release_plan" {
  description = "Names of the planned releases in install order."
  value       = module.release_plan.release_names
}

output "releases" {
  description = "Installed releases with namespace, chart, version and status."
  value       = module.platform.releases
}

output "namespaces" {
  description = "Namespaces the planned releases install into; platformctl creates them (not this stack) before any Secret."
  value       = module.release_plan.namespaces
}
