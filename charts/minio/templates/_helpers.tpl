{{- define "minio.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "minio.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "minio.image" -}}
{{- if or (not .Values.image.repository) (not .Values.image.tag) -}}
{{- fail "image.repository and image.tag must be set (generated values from versions.yaml)" -}}
{{- end -}}
{{- if eq .Values.image.tag "latest" -}}
{{- fail "image.tag must be pinned, not latest" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository .Values.image.tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag -}}
{{- end -}}
{{- end -}}

{{/* policy/v1 PDB is GA from 1.21; the 1.20 harness only serves policy/v1beta1. */}}
{{- define "minio.pdbApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "policy/v1") (semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version) -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end -}}
{{- end -}}

{{/* Pod Security Standards "restricted"; uid from values (official images use their own uid). */}}
{{- define "minio.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsUser }}
fsGroup: {{ .Values.securityContext.runAsUser }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "minio.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsUser }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* NetworkPolicy peer: namespace and/or pod labels, or a CIDR. */}}
{{- define "minio.peer" -}}
{{- $peer := dict -}}
{{- if .cidr }}{{ $_ := set $peer "ipBlock" (dict "cidr" .cidr) }}{{ end -}}
{{- if .namespace }}{{ $_ := set $peer "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .namespace)) }}{{ end -}}
{{- if .podLabels }}{{ $_ := set $peer "podSelector" (dict "matchLabels" .podLabels) }}{{ end -}}
{{- toYaml (list $peer) -}}
{{- end -}}

{{- define "minio.ports" -}}
ports:
{{- range .ports }}
  - protocol: TCP
    port: {{ . }}
{{- end }}
{{- end -}}

{{- define "minio.headless" -}}
{{- printf "%s-hl" .Release.Name -}}
{{- end -}}

{{/* StatefulSet name of a pool; also the stem of its PVC names, so it must never change. */}}
{{- define "minio.poolName" -}}
{{- printf "%s-%s" .root.Release.Name .pool.name -}}
{{- end -}}

{{/* Drive paths: /export/data0 .. /export/data<n-1>. */}}
{{- define "minio.drives" -}}
{{- if eq (int .) 1 -}}
/export/data0
{{- else -}}
{{- printf "/export/data{0...%d}" (sub (int .) 1) -}}
{{- end -}}
{{- end -}}

{{/* One argument per pool: every server is started with every pool (MinIO server pools). */}}
{{- define "minio.serverArgs" -}}
{{- $root := . -}}
{{- if eq .Values.mode "standalone" -}}
- /export/data0
{{- else -}}
{{- range .Values.pools }}
- {{ printf "http://%s-{0...%d}.%s.%s.svc.cluster.local:9000%s" (include "minio.poolName" (dict "root" $root "pool" .)) (sub (int .servers) 1) (include "minio.headless" $root) $root.Release.Namespace (include "minio.drives" .drivesPerServer) }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* Pools to render: the single standalone server or the configured pools. */}}
{{- define "minio.pools" -}}
{{- if eq .Values.mode "standalone" -}}
- {name: standalone, servers: 1, drivesPerServer: 1, size: {{ .Values.standalone.size | quote }}, storageClass: {{ .Values.standalone.storageClass | quote }}}
{{- else -}}
{{- if not .Values.pools -}}
{{- fail "mode distributed needs at least one entry in pools" -}}
{{- end -}}
{{- toYaml .Values.pools -}}
{{- end -}}
{{- end -}}
