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
    condition     = output.release_names == ["metrics-server", "kube-prometheus-stack", "traefik", "platform", "postgresql", "rabbitmq", "minio", "users", "auth", "notifications"]
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
    condition     = length(output.releases) == 11 && contains(output.release_names, "metrics-server")
    error_message = "prod must plan all eleven releases: ${jsonencode(output.release_names)}"
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

  # kube-prometheus-stack installs the monitoring.coreos.com CRDs that the traefik and cert-manager
  # charts render ServiceMonitors of (traefik chart v37.3.0 templates/servicemonitor.yaml fails without
  # them), so it comes a wave earlier; `platform` (Middlewares, Certificates, PrometheusRules) after all three.
  assert {
    condition = { for r in output.releases : r.name => r.wave } == {
      "metrics-server" = 0, "kube-prometheus-stack" = 0, "cert-manager" = 1, "traefik" = 1, "platform" = 2,
      "postgresql"     = 3, "rabbitmq" = 3, "minio" = 3, "users" = 4, "auth" = 5, "notifications" = 5,
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
    condition     = one([for r in output.releases : r.needs if r.name == "traefik"]) == ["kube-prometheus-stack"] && one([for r in output.releases : r.needs if r.name == "cert-manager"]) == ["kube-prometheus-stack"]
    error_message = "traefik and cert-manager render ServiceMonitors: they must need kube-prometheus-stack"
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
    condition     = one([for r in output.releases : r.needs if r.name == "platform"]) == ["traefik"] && one([for r in output.releases : r.needs if r.name == "traefik"]) == []
    error_message = "needs must only name planned releases"
  }
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
