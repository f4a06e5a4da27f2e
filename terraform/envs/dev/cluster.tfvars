env          = "dev"
kind_workers = 1
