# Image registry for the own service images: one ECR repository per image, immutable tags (a tag is a
# content hash and is never moved), scanned on push, encrypted with the cluster's KMS key, and a
# lifecycle policy that keeps the last `image_retention_count` images. The nodes pull through the
# AmazonEC2ContainerRegistryReadOnly policy attached to their role (iam.tf); ECR decrypts through the
# grant it creates on the key, so pulling needs no KMS permission.
locals {
  image_registry = "${local.account_id}.dkr.ecr.${data.aws_region.current.name}.${data.aws_partition.current.dns_suffix}"
}

resource "aws_ecr_repository" "this" {
  for_each = toset(var.image_repository_names)

  name                 = each.key
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false
  tags                 = var.tags

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.cluster.arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last ${var.image_retention_count} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.image_retention_count
      }
      action = { type = "expire" }
    }]
  })
}
