# Run from the module directory: `terraform test` (tests/terraform/test_release_plan.py does so).
# Every run points at fixture values so the suite does not depend on the real values/ tree.
variables {
  values_dir = "tests/terraform/fixtures/values"
}

run "dev_orders_waves_and_has_no_autoscaling" {
  command = plan
  variables {
    env = "dev"
  }

  assert {
    condition     = output.release_names == ["metrics-server", "prometheus-operator-crds", "traefik-crds", "kube-prometheus-stack", "traefik", "platform", "postgresql", "rabbitmq", "minio", "users", "auth", "notifications"]
    error_message = "dev release order is wrong: ${jsonencode(output.release_names)}"
  }
  assert {
    condition     = alltrue([for i in range(1, length(output.releases)) : output.releases[i - 1].wave <= output.releases[i].wave])
    error_message = "releases are not sorted by wave"
  }
  assert {
    condition     = !anytrue([for r in output.releases : r.autoscaling])
    error_message = "dev must not plan HPA-sized releases"
  }
  assert {
    condition     = !contains(output.release_names, "cert-manager")
    error_message = "dev has no TLS, so no cert-manager"
  }
}

run "prod_has_every_release_with_metrics_server_for_its_hpas" {
  command = plan
  variables {
    env = "prod"
  }

  assert {
    condition     = length(output.releases) == 13 && contains(output.release_names, "metrics-server")
    error_message = "prod must plan all thirteen releases: ${jsonencode(output.release_names)}"
  }
  assert {
    condition     = one([for r in output.releases : r.wave if r.name == "metrics-server"]) == 0 && one([for r in output.releases : r.namespace if r.name == "metrics-server"]) == "kube-system"
    error_message = "prod: metrics-server in kube-system, wave 0, before the HPA-sized services"
  }
  assert {
    condition     = toset([for r in output.releases : r.name if r.autoscaling]) == toset(["users", "auth", "notifications"])
    error_message = "prod must size the three services for HPA"
  }
}

run "crd_providers_then_their_consumers_then_data_stores" {
  command = plan
  variables {
    env = "staging"
  }

  # prometheus-operator-crds installs the monitoring.coreos.com CRDs that kube-prometheus-stack and the
  # traefik and cert-manager charts render objects of (traefik chart v37.3.0 templates/servicemonitor.yaml
  # fails without them), traefik-crds the traefik.io ones, so both come a wave earlier; `platform`
  # (Middlewares, Certificates, PrometheusRules) after the three consumers.
  assert {
    condition = { for r in output.releases : r.name => r.wave } == {
      "metrics-server" = 0, "prometheus-operator-crds" = 0, "traefik-crds" = 0, "kube-prometheus-stack" = 1,
      "cert-manager"   = 1, "traefik" = 1, "platform" = 2, "postgresql" = 3, "rabbitmq" = 3, "minio" = 3,
      "users"          = 4, "auth" = 5, "notifications" = 5,
    }
    error_message = "staging waves are wrong: ${jsonencode({ for r in output.releases : r.name => r.wave })}"
  }
  assert {
    condition = alltrue(flatten([for r in output.releases : [
      for n in r.needs : one([for d in output.releases : d.wave if d.name == n]) < r.wave
    ]]))
    error_message = "a release is not in a later wave than a release it needs"
  }
  assert {
    condition     = one([for r in output.releases : r.needs if r.name == "traefik"]) == ["prometheus-operator-crds", "traefik-crds"] && one([for r in output.releases : r.needs if r.name == "cert-manager"]) == ["prometheus-operator-crds"]
    error_message = "traefik and cert-manager render ServiceMonitors: they must need prometheus-operator-crds (traefik its own CRDs too)"
  }
  assert {
    condition     = one([for r in output.releases : r.needs if r.name == "notifications"]) == ["rabbitmq", "minio"]
    error_message = "notifications must need rabbitmq and minio"
  }
}

run "dev_metrics_server_comes_with_the_first_wave" {
  command = plan
  variables {
    env = "dev"
  }

  assert {
    condition     = one([for r in output.releases : r.wave if r.name == "metrics-server"]) == 0 && one([for r in output.releases : r.wave if r.name == "traefik"]) == 1
    error_message = "dev: metrics-server in wave 0, traefik in wave 1"
  }
}

run "charts_and_values_files" {
  command = plan
  variables {
    env = "staging"
  }

  assert {
    condition     = one([for r in output.releases : r.chart.path if r.name == "auth"]) == "charts/microservice"
    error_message = "auth must use the local charts/microservice chart"
  }
  assert {
    condition     = one([for r in output.releases : r.chart.version if r.name == "traefik"]) == yamldecode(file("../../../versions.yaml")).charts.traefik.version
    error_message = "traefik must be pinned from versions.yaml"
  }
  assert {
    condition = one([for r in output.releases : r.values_files if r.name == "minio"]) == [
      "tests/terraform/fixtures/values/common/minio.yaml",
      "tests/terraform/fixtures/values/staging/minio.yaml",
      "tests/terraform/fixtures/values/generated/staging/minio.yaml",
    ]
    error_message = "values files must be common, env, generated in that order"
  }
}

run "feature_switches_drop_releases_and_needs" {
  command = plan
  variables {
    env      = "prod"
    features = { monitoring = false, tls = false }
  }

  assert {
    condition     = !contains(output.release_names, "kube-prometheus-stack") && !contains(output.release_names, "cert-manager")
    error_message = "disabled features must not be planned"
  }
  assert {
    condition     = one([for r in output.releases : r.needs if r.name == "platform"]) == ["traefik"] && one([for r in output.releases : r.needs if r.name == "traefik"]) == ["traefik-crds"] && !contains(output.release_names, "prometheus-operator-crds")
    error_message = "needs must only name planned releases"
  }
}

run "crd_releases_install_and_upgrade_the_crds_before_their_consumers" {
  command = plan
  variables {
    env = "prod"
  }

  # Helm installs a chart's crds/ folder once and never upgrades it: the consumers whose CRDs live there
  # skip them, and the CRD-only chart pinned beside them in versions.yaml installs them as templates
  # (upgraded by Helm on a pin bump) in wave 0. cert-manager renders its CRDs as templates itself.
  assert {
    condition = { for r in output.releases : r.name => [r.wave, r.skip_crds, r.crds_of] if r.skip_crds || r.crds_of != null } == {
      "prometheus-operator-crds" = [0, false, "kube-prometheus-stack"], "traefik-crds" = [0, false, "traefik"],
      "kube-prometheus-stack"    = [1, true, null], "traefik" = [1, true, null],
    }
    error_message = "CRD releases / skip_crds: ${jsonencode({ for r in output.releases : r.name => [r.wave, r.skip_crds, r.crds_of] })}"
  }
  assert {
    condition     = alltrue([for r in output.releases : r.chart.repository == yamldecode(file("../../../versions.yaml")).charts[r.crds_of].repository && r.chart.name == yamldecode(file("../../../versions.yaml")).charts[r.crds_of].crds.chart && r.chart.version == yamldecode(file("../../../versions.yaml")).charts[r.crds_of].crds.version if r.crds_of != null])
    error_message = "a CRD release must install the CRD chart versions.yaml pins under charts.<consumer>.crds"
  }
  assert {
    condition     = one([for r in output.releases : r.values_files if r.name == "traefik-crds"])[0] == "tests/terraform/fixtures/values/common/traefik-crds.yaml"
    error_message = "a CRD release reads values/common/<name>.yaml first"
  }
}

run "consumer_without_its_crd_release_is_rejected" {
  command = plan
  variables {
    env        = "dev"
    repo_root  = "../../../tests/terraform/fixtures/crd-gap"
    values_dir = "../values"
  }
  # The fixture's versions.yaml pins a CRD chart for metrics-server, which has no CRD release.
  expect_failures = [output.releases]
}

run "timeout_override" {
  command = plan
  variables {
    env      = "dev"
    timeouts = { postgresql = 1200 }
  }

  assert {
    condition     = one([for r in output.releases : r.timeout if r.name == "postgresql"]) == 1200
    error_message = "timeout override not applied"
  }
}

run "unknown_env_is_rejected" {
  command = plan
  variables {
    env = "qa"
  }
  expect_failures = [var.env]
}

run "missing_values_file_is_rejected" {
  command = plan
  variables {
    env        = "dev"
    values_dir = "tests/terraform/fixtures/values-incomplete"
  }
  expect_failures = [output.releases]
}

run "timeout_for_unknown_release_is_rejected" {
  command = plan
  variables {
    env      = "dev"
    timeouts = { redis = 300 }
  }
  expect_failures = [output.releases]
}
