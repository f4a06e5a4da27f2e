{{- define "pg.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pg.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pg.image" -}}
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
{{- define "pg.pdbApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "policy/v1") (semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version) -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end -}}
{{- end -}}

{{/* Pod Security Standards "restricted"; uid from values (official images use their own uid). */}}
{{- define "pg.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsUser }}
fsGroup: {{ .Values.securityContext.runAsUser }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "pg.containerSecurityContext" -}}
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
{{- define "pg.peer" -}}
{{- $peer := dict -}}
{{- if .cidr }}{{ $_ := set $peer "ipBlock" (dict "cidr" .cidr) }}{{ end -}}
{{- if .namespace }}{{ $_ := set $peer "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .namespace)) }}{{ end -}}
{{- if .podLabels }}{{ $_ := set $peer "podSelector" (dict "matchLabels" .podLabels) }}{{ end -}}
{{- toYaml (list $peer) -}}
{{- end -}}

{{- define "pg.ports" -}}
ports:
{{- range .ports }}
  - protocol: TCP
    port: {{ . }}
{{- end }}
{{- end -}}

{{/* The backup CronJob and the Jobs `platformctl backup` starts from its template. */}}
{{- define "pg.backupName" -}}
{{- printf "%s-backup" .Release.Name -}}
{{- end -}}

{{- define "pg.backupSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-backup" .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pg.backupLabels" -}}
{{ include "pg.backupSelectorLabels" . }}
app.kubernetes.io/component: backup
app.kubernetes.io/version: {{ .Values.backup.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pg.backupImage" -}}
{{- if or (not .Values.backup.image.repository) (not .Values.backup.image.tag) -}}
{{- fail "backup.image.repository and backup.image.tag must be set (generated values: the pgbackup image built on this release's image)" -}}
{{- end -}}
{{- if eq .Values.backup.image.tag "latest" -}}
{{- fail "backup.image.tag must be pinned, not latest" -}}
{{- end -}}
{{- printf "%s:%s" .Values.backup.image.repository .Values.backup.image.tag -}}
{{- end -}}

{{/* batch/v1 CronJob is GA from 1.21; the 1.20 harness only serves batch/v1beta1. */}}
{{- define "pg.cronJobApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "batch/v1") (semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version) -}}
batch/v1
{{- else -}}
batch/v1beta1
{{- end -}}
{{- end -}}
