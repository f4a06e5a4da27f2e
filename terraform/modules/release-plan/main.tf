locals {
  # Relative on purpose (no abspath): nothing derived from this machine's checkout path reaches a state.
  root        = coalesce(var.repo_root, "${path.module}/../../..")
  versions    = yamldecode(file("${local.root}/versions.yaml"))
  values_base = startswith(var.values_dir, "/") ? var.values_dir : "${local.root}/${var.values_dir}"

  # What each environment gets unless a feature switch says otherwise: environments.yaml `features`
  # (the one file that lists the environments; make and platformctl read it too).
  environments = yamldecode(file("${path.module}/../../../environments.yaml")).environments
  # lookup() keeps evaluation alive for an invalid env so the variable validation reports it.
  defaults = lookup(local.environments, var.env, values(local.environments)[0]).features
  features = { for name, value in local.defaults : name => coalesce(var.features[name], value) }

  # The table in docs/architecture.md. `feature` null means always installed; `chart` null means an
  # upstream chart pinned in versions.yaml under the release name, or, with `crds_of`, the CRD-only chart
  # versions.yaml pins for that release (`charts.<crds_of>.crds`); `scalable` marks HPA-sized workloads.
  # Waves put every CRD consumer after the release that installs the CRD (Helm renders a release before
  # applying any of it): 0 the CRD releases (prometheus-operator-crds: monitoring.coreos.com,
  # traefik-crds: traefik.io) and metrics-server; 1 kube-prometheus-stack, cert-manager (cert-manager.io
  # CRDs as templates of its own release) and traefik, whose charts render ServiceMonitors (the traefik
  # chart v37.3.0 templates/servicemonitor.yaml `fail`s without monitoring.coreos.com/v1); 2 platform
  # (Middlewares, Certificates, PrometheusRules); 3 data stores; 4 users; 5 auth and notifications.
  catalog = [
    { name = "metrics-server", namespace = "kube-system", wave = 0, needs = [], feature = "metrics_server", chart = null, crds_of = null, timeout = 300, scalable = false },
    { name = "prometheus-operator-crds", namespace = "monitoring", wave = 0, needs = [], feature = "monitoring", chart = null, crds_of = "kube-prometheus-stack", timeout = 300, scalable = false },
    { name = "traefik-crds", namespace = "ingress", wave = 0, needs = [], feature = "ingress", chart = null, crds_of = "traefik", timeout = 300, scalable = false },
    { name = "kube-prometheus-stack", namespace = "monitoring", wave = 1, needs = ["prometheus-operator-crds"], feature = "monitoring", chart = null, crds_of = null, timeout = 900, scalable = false },
    { name = "cert-manager", namespace = "cert-manager", wave = 1, needs = ["prometheus-operator-crds"], feature = "tls", chart = null, crds_of = null, timeout = 300, scalable = false },
    { name = "traefik", namespace = "ingress", wave = 1, needs = ["prometheus-operator-crds", "traefik-crds"], feature = "ingress", chart = null, crds_of = null, timeout = 300, scalable = false },
    { name = "platform", namespace = "platform", wave = 2, needs = ["cert-manager", "kube-prometheus-stack", "traefik"], feature = null, chart = "platform", crds_of = null, timeout = 300, scalable = false },
    { name = "postgresql", namespace = "data", wave = 3, needs = [], feature = null, chart = "postgresql", crds_of = null, timeout = 600, scalable = false },
    { name = "rabbitmq", namespace = "data", wave = 3, needs = [], feature = null, chart = "rabbitmq", crds_of = null, timeout = 600, scalable = false },
    { name = "minio", namespace = "data", wave = 3, needs = [], feature = null, chart = "minio", crds_of = null, timeout = 600, scalable = false },
    { name = "users", namespace = "apps", wave = 4, needs = ["postgresql", "rabbitmq"], feature = null, chart = "microservice", crds_of = null, timeout = 300, scalable = true },
    { name = "auth", namespace = "apps", wave = 5, needs = ["users"], feature = null, chart = "microservice", crds_of = null, timeout = 300, scalable = true },
    { name = "notifications", namespace = "apps", wave = 5, needs = ["rabbitmq", "minio"], feature = null, chart = "microservice", crds_of = null, timeout = 300, scalable = true },
  ]
  # Upstream releases whose chart keeps its CRDs in crds/ (versions.yaml `crds: {chart, ...}`): Helm
  # would install those once and never upgrade them, so the release gets skip_crds and its CRD release
  # (the catalog entry with `crds_of` = its name) installs and upgrades them in an earlier wave.
  crd_chart      = { for name, chart in local.versions.charts : name => chart.crds if can(chart.crds.chart) }
  crd_release_of = { for r in local.catalog : r.crds_of => r.name if r.crds_of != null }
  waves          = range(max([for r in local.catalog : r.wave]...) + 1)

  enabled       = [for r in local.catalog : r if r.feature == null ? true : local.features[r.feature]]
  enabled_names = [for r in local.enabled : r.name]
  wave_of       = { for r in local.enabled : r.name => r.wave }

  releases = flatten([for wave in local.waves : [for r in local.enabled : {
    name      = r.name
    namespace = r.namespace
    wave      = r.wave
    needs     = [for n in r.needs : n if contains(local.enabled_names, n)]
    chart = {
      path       = r.chart == null ? null : "charts/${r.chart}"
      repository = r.chart == null ? local.versions.charts[coalesce(r.crds_of, r.name)].repository : null
      name       = r.chart != null ? r.chart : r.crds_of != null ? local.crd_chart[r.crds_of].chart : local.versions.charts[r.name].chart
      version    = r.chart != null ? null : r.crds_of != null ? local.crd_chart[r.crds_of].version : local.versions.charts[r.name].version
    }
    # The CRDs of this chart's crds/ folder come from its CRD release instead; `crds_of` names the
    # release whose CRDs a CRD release carries.
    skip_crds = r.chart == null && contains(keys(local.crd_chart), r.name)
    crds_of   = r.crds_of
    # A site profile's overlay (platformctl: values_overlay) comes last; its files are optional.
    values_files = concat([
      "${var.values_dir}/common/${r.name}.yaml",
      "${var.values_dir}/${var.env}/${r.name}.yaml",
      "${var.values_dir}/generated/${var.env}/${r.name}.yaml",
    ], var.values_overlay == null ? [] : ["${var.values_overlay}/${r.name}.yaml"])
    timeout     = lookup(var.timeouts, r.name, r.timeout)
    autoscaling = r.scalable && local.features.autoscaling
  } if r.wave == wave]])

  # Checked by the output preconditions so that a broken plan never reaches Helm.
  missing_charts = [for r in local.enabled : r.name if r.chart == null && !contains(keys(local.versions.charts), coalesce(r.crds_of, r.name))]
  # Every enabled release with a CRD chart has its CRD release enabled, needed and in an earlier wave
  # (bad_order checks the wave through `needs`); a CRD release exists only for a chart with a CRD chart.
  crd_gaps = concat(
    [for r in local.enabled : r.name if contains(keys(local.crd_chart), r.name) && r.chart == null && !(
      contains(keys(local.crd_release_of), r.name) && contains(local.enabled_names, lookup(local.crd_release_of, r.name, "")) && contains(r.needs, lookup(local.crd_release_of, r.name, ""))
    )],
    [for r in local.enabled : r.name if r.crds_of != null && !contains(keys(local.crd_chart), coalesce(r.crds_of, "-"))],
  )
  # A CRD release needs no per-env settings: its common file only.
  required_files = flatten([for r in local.enabled : r.crds_of == null ? ["common/${r.name}.yaml", "${var.env}/${r.name}.yaml"] : ["common/${r.name}.yaml"]])
  missing_files  = [for f in local.required_files : "${var.values_dir}/${f}" if !fileexists("${local.values_base}/${f}")]
  bad_order = [for r in local.enabled : r.name
  if anytrue([for n in r.needs : lookup(local.wave_of, n, -1) >= r.wave])]
  unknown_timeouts = setsubtract(keys(var.timeouts), [for r in local.catalog : r.name])
}
