output "releases" {
  description = "Ordered release plan (see modules/release-plan)."
  value       = module.release_plan.releases
}

output "namespaces" {
  description = "Namespaces the planned releases install into."
  value       = module.release_plan.namespaces
}

output "features" {
  description = "Effective feature switches."
  value       = module.release_plan.features
}
