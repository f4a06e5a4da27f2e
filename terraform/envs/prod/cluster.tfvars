env                = "prod"
aws_region         = "eu-west-1"
availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
single_nat_gateway = false
# Private API endpoint only: `make apply` runs from inside the VPC (CI runner, VPN). Opening the public
# endpoint means listing egress CIDRs here and an entry in terraform/accepted-findings.yaml.
endpoint_public_access_cidrs = []
node_group = {
  min_size       = 3
  max_size       = 9
  desired_size   = 3
  instance_types = ["m6i.xlarge"]
  disk_size      = 100
}
