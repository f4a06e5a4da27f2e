variable "name" {
  description = "Name of the kind cluster (the kubeconfig context becomes kind-<name>)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "The name must be 3-40 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "node_image" {
  description = "kindest/node image pinned by tag and digest (the stack reads kubernetes.kind_node_image from versions.yaml)."
  type        = string

  validation {
    condition     = can(regex("^kindest/node:v[0-9]+\\.[0-9]+\\.[0-9]+(@sha256:[a-f0-9]{64})?$", var.node_image))
    error_message = "The node_image must be kindest/node:vX.Y.Z (optionally with @sha256 digest), never latest."
  }
}

variable "workers" {
  description = "Number of worker nodes next to the single control plane."
  type        = number
  default     = 1

  validation {
    condition     = var.workers >= 0 && var.workers <= 5 && floor(var.workers) == var.workers
    error_message = "The workers count must be a whole number from 0 to 5."
  }
}

variable "ingress_http_port" {
  description = "Host port mapped to Traefik's web NodePort on the control plane node (HTTP)."
  type        = number
  default     = 80

  validation {
    condition     = var.ingress_http_port >= 1 && var.ingress_http_port <= 65535
    error_message = "The ingress_http_port must be a TCP port (1-65535)."
  }
}

variable "ingress_https_port" {
  description = "Host port mapped to Traefik's websecure NodePort on the control plane node (HTTPS)."
  type        = number
  default     = 443

  validation {
    condition     = var.ingress_https_port >= 1 && var.ingress_https_port <= 65535
    error_message = "The ingress_https_port must be a TCP port (1-65535)."
  }
}

variable "ingress_node_ports" {
  description = "Traefik's NodePorts (web = http, websecure = https): the container ports the ingress host ports map to; the stack reads them from values/<env>/traefik.yaml."
  type = object({
    http  = number
    https = number
  })
  nullable = false

  validation {
    condition     = alltrue([for port in values(var.ingress_node_ports) : try(port >= 30000 && port <= 32767 && floor(port) == port, false)])
    error_message = "The ingress_node_ports must be whole numbers in 30000-32767: set ports.web.nodePort and ports.websecure.nodePort in values/<env>/traefik.yaml."
  }
  validation {
    condition     = try(var.ingress_node_ports.http != var.ingress_node_ports.https, false)
    error_message = "The ingress_node_ports http and https must differ."
  }
}

variable "listen_address" {
  description = "Host address the ingress ports bind to; loopback by default so the laptop is not exposed."
  type        = string
  default     = "127.0.0.1"

  validation {
    condition     = can(cidrhost("${var.listen_address}/32", 0))
    error_message = "The listen_address must be an IPv4 address."
  }
}

variable "kubeconfig_path" {
  description = "File the provider writes the cluster's kubeconfig to (without it, kind_cluster writes into the working directory)."
  type        = string

  validation {
    condition     = length(trimspace(var.kubeconfig_path)) > 0 && !endswith(var.kubeconfig_path, "/")
    error_message = "The kubeconfig_path must be a file path."
  }
}
