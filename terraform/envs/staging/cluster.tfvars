env                = "staging"
aws_region         = "eu-west-1"
availability_zones = ["eu-west-1a", "eu-west-1b"]
single_nat_gateway = true
# Private API endpoint only: `make apply` runs from inside the VPC (CI runner, VPN). Opening the public
# endpoint means listing egress CIDRs here and an entry in terraform/accepted-findings.yaml.
endpoint_public_access_cidrs = []
node_group = {
  min_size       = 2
  max_size       = 4
  desired_size   = 2
  instance_types = ["m6i.large"]
}
