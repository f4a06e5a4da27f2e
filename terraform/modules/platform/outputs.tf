output "releases" {
  description = "Installed releases: name => namespace, chart, version (null for local charts) and status."
  value = { for name, r in merge(helm_release.wave_0, helm_release.wave_1, helm_release.wave_2, helm_release.wave_3, helm_release.wave_4, helm_release.wave_5) : name => {
    namespace = r.namespace
    chart     = r.chart
    version   = r.version
    status    = r.status
  } }
}
