"""End-to-end deployment on a live cluster (the local k8s harness); not part of `make test`."""
