env = "staging"
# Written by `platformctl` from the cluster stack's kubeconfig output (relative to stacks/platform).
kubeconfig_path = "../../../.state/staging/kubeconfig"
