locals {
  # Releases keyed by name, grouped by wave; one helm_release block per wave serialises the waves.
  by_wave = { for wave in range(6) : wave => { for r in var.releases : r.name => r if r.wave == wave } }

  # Common, env and generated values files in that order (later ones win). The generated file is
  # optional at plan time: `platformctl values` writes it just before the apply.
  values = { for r in var.releases : r.name => [
    for f in r.values_files : file(local.abs[f]) if fileexists(local.abs[f])
  ] }
  abs = { for f in flatten([for r in var.releases : r.values_files]) : f => startswith(f, "/") ? f : "${var.repo_root}/${f}" }

  # repo_root is relative to terraform's working directory, and so is a local chart path: the helm
  # provider resolves it there, and helm_release.chart keeps it as written, so no machine path reaches state.
  charts = { for r in var.releases : r.name => r.chart.path == null ? r.chart.name : "${var.repo_root}/${r.chart.path}" }
}

# Namespaces have one owner, platformctl, which creates them with their Pod Security labels
# (values/namespaces.yaml) before any Secret is written; every release below uses create_namespace = false.
# States written before that still hold the namespaces this module used to create: forget them, never
# delete them (deleting a namespace deletes every release in it).
removed {
  from = kubernetes_namespace_v1.this

  lifecycle {
    destroy = false
  }
}

# The six blocks below differ only in their wave and depends_on (wave 0 waits for nothing Terraform
# owns). No `set`/`set_sensitive`: every setting comes from values files, and secrets only by
# existingSecret name. skip_crds: set by the plan for a chart whose crds/ folder its CRD release installs
# and upgrades (helm provider v3.1.2 resource_helm_release.go `skip_crds`).
resource "helm_release" "wave_0" {
  for_each = local.by_wave[0]

  name             = each.key
  namespace        = each.value.namespace
  chart            = local.charts[each.key]
  repository       = each.value.chart.repository
  version          = each.value.chart.version
  skip_crds        = each.value.skip_crds
  values           = local.values[each.key]
  timeout          = each.value.timeout
  atomic           = true
  wait             = true
  cleanup_on_fail  = true
  max_history      = var.max_history
  create_namespace = false
}

resource "helm_release" "wave_1" {
  for_each = local.by_wave[1]

  name             = each.key
  namespace        = each.value.namespace
  chart            = local.charts[each.key]
  repository       = each.value.chart.repository
  version          = each.value.chart.version
  skip_crds        = each.value.skip_crds
  values           = local.values[each.key]
  timeout          = each.value.timeout
  atomic           = true
  wait             = true
  cleanup_on_fail  = true
  max_history      = var.max_history
  create_namespace = false

  depends_on = [helm_release.wave_0]
}

resource "helm_release" "wave_2" {
  for_each = local.by_wave[2]

  name             = each.key
  namespace        = each.value.namespace
  chart            = local.charts[each.key]
  repository       = each.value.chart.repository
  version          = each.value.chart.version
  skip_crds        = each.value.skip_crds
  values           = local.values[each.key]
  timeout          = each.value.timeout
  atomic           = true
  wait             = true
  cleanup_on_fail  = true
  max_history      = var.max_history
  create_namespace = false

  depends_on = [helm_release.wave_1]
}

resource "helm_release" "wave_3" {
  for_each = local.by_wave[3]

  name             = each.key
  namespace        = each.value.namespace
  chart            = local.charts[each.key]
  repository       = each.value.chart.repository
  version          = each.value.chart.version
  skip_crds        = each.value.skip_crds
  values           = local.values[each.key]
  timeout          = each.value.timeout
  atomic           = true
  wait             = true
  cleanup_on_fail  = true
  max_history      = var.max_history
  create_namespace = false

  depends_on = [helm_release.wave_2]
}

resource "helm_release" "wave_4" {
  for_each = local.by_wave[4]

  name             = each.key
  namespace        = each.value.namespace
  chart            = local.charts[each.key]
  repository       = each.value.chart.repository
  version          = each.value.chart.version
  skip_crds        = each.value.skip_crds
  values           = local.values[each.key]
  timeout          = each.value.timeout
  atomic           = true
  wait             = true
  cleanup_on_fail  = true
  max_history      = var.max_history
  create_namespace = false

  depends_on = [helm_release.wave_3]
}

resource "helm_release" "wave_5" {
  for_each = local.by_wave[5]

  name             = each.key
  namespace        = each.value.namespace
  chart            = local.charts[each.key]
  repository       = each.value.chart.repository
  version          = each.value.chart.version
  skip_crds        = each.value.skip_crds
  values           = local.values[each.key]
  timeout          = each.value.timeout
  atomic           = true
  wait             = true
  cleanup_on_fail  = true
  max_history      = var.max_history
  create_namespace = false

  depends_on = [helm_release.wave_4]
}
