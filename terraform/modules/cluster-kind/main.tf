# One control plane (labelled ingress-ready, with the ingress host ports) plus N workers. The host ports
# map to Traefik's fixed NodePorts on the control plane node; kube-proxy forwards them to Traefik wherever
# its pod runs, so no nodeSelector or hostPort is needed.
resource "kind_cluster" "this" {
  name            = var.name
  node_image      = var.node_image
  kubeconfig_path = var.kubeconfig_path
  wait_for_ready  = true

  kind_config {
    kind        = "Cluster"
    api_version = "kind.x-k8s.io/v1alpha4"

    node {
      role = "control-plane"
      # Label kept for ingress setups that schedule onto the node that owns the host ports.
      kubeadm_config_patches = [
        yamlencode({
          kind             = "InitConfiguration"
          nodeRegistration = { kubeletExtraArgs = { "node-labels" = "ingress-ready=true" } }
        }),
      ]

      extra_port_mappings {
        container_port = var.ingress_node_ports.http
        host_port      = var.ingress_http_port
        listen_address = var.listen_address
        protocol       = "TCP"
      }
      extra_port_mappings {
        container_port = var.ingress_node_ports.https
        host_port      = var.ingress_https_port
        listen_address = var.listen_address
        protocol       = "TCP"
      }
    }

    dynamic "node" {
      for_each = range(var.workers)
      content {
        role = "worker"
      }
    }
  }
}
