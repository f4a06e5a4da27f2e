env          = "dev"
cluster_type = "kind"
kind_workers = 1
