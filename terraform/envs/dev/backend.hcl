# dev keeps its state on the laptop: the local backend, selected by a generated backend_override.tf
# (terraform/README.md). The state file per stack is given on init:
#   -backend-config=path=<repo>/.state/dev/<stack>.tfstate
workspace_dir = "../../../.state/dev/workspaces"
