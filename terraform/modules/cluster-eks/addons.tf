# EKS add-ons the platform's workloads rely on. The EBS CSI driver provisions the PersistentVolumes of
# PostgreSQL, RabbitMQ, MinIO and Prometheus (the default gp3 StorageClass lives in charts/platform);
# its controller calls the EC2 API through IRSA: the service account kube-system/ebs-csi-controller-sa
# (the name the add-on creates) assumes the role below through the cluster's OIDC provider (iam.tf).
# The metrics API comes from the metrics-server release of the release plan, as on kind.
locals {
  oidc_issuer_host = trimprefix(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://")
}

data "aws_iam_policy_document" "ebs_csi_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }
    # Only the driver's controller service account, and only tokens minted for STS.
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer_host}:sub"
      values   = ["system:serviceaccount:kube-system:ebs-csi-controller-sa"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ebs_csi" {
  name               = "${var.name}-ebs-csi"
  description        = "EBS CSI driver controller of ${var.name} (IRSA)"
  assume_role_policy = data.aws_iam_policy_document.ebs_csi_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  role       = aws_iam_role.ebs_csi.name
  policy_arn = "${local.managed_policy}/service-role/AmazonEBSCSIDriverPolicy"
}

resource "aws_eks_addon" "ebs_csi" {
  cluster_name             = aws_eks_cluster.this.name
  addon_name               = "aws-ebs-csi-driver"
  addon_version            = var.ebs_csi_driver_version
  service_account_role_arn = aws_iam_role.ebs_csi.arn
  # Terraform owns the add-on's configuration: adopt a driver installed by hand on create, and put back
  # fields changed in the cluster on every update.
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
  tags                        = var.tags

  # The controller pods need nodes (else the add-on stays DEGRADED) and the role's permissions.
  depends_on = [aws_eks_node_group.default, aws_iam_role_policy_attachment.ebs_csi]
}
