{{/* Name used for every object of the release: the release name is the service name. */}}
{{- define "ms.name" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ms.labels" -}}
app.kubernetes.io/name: {{ include "ms.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector of the serving pods; the migration Job shares name/instance but not the component. */}}
{{- define "ms.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ms.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "ms.image" -}}
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

{{/* autoscaling/v2 is GA from 1.23; older clusters (the 1.20 harness) only serve v2beta2. */}}
{{- define "ms.hpaApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "autoscaling/v2") (semverCompare ">=1.23-0" .Capabilities.KubeVersion.Version) -}}
autoscaling/v2
{{- else -}}
autoscaling/v2beta2
{{- end -}}
{{- end -}}

{{/* policy/v1 PDB is GA from 1.21. */}}
{{- define "ms.pdbApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "policy/v1") (semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version) -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end -}}
{{- end -}}

{{/* Replicas > 1 at any time: needs a PDB and spreading. */}}
{{- define "ms.multiReplica" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) -}}true{{- end -}}
{{- end -}}

{{/* Environment: settings from the ConfigMap plus the common PREFIX_PORT / PREFIX_LOG_LEVEL. */}}
{{- define "ms.env" -}}
{{- $prefix := .Release.Name | upper | replace "-" "_" -}}
{{ printf "%s_PORT" $prefix }}: "8080"
{{- if .Values.internalPort.enabled }}
{{ printf "%s_INTERNAL_PORT" $prefix }}: {{ .Values.internalPort.port | toString | quote }}
{{- end }}
{{ printf "%s_LOG_LEVEL" $prefix }}: {{ .Values.logLevel | quote }}
{{- range $key, $value := .Values.settings }}
{{ $key }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "ms.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "ms.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Volumes and mounts of a list of secretMounts entries (the Deployment's, or the Job's with its own). */}}
{{- define "ms.secretVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- range . }}
- name: {{ printf "secret-%s" .name }}
  secret:
    secretName: {{ .name }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "ms.secretVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- range . }}
- name: {{ printf "secret-%s" .name }}
  mountPath: {{ printf "/var/run/secrets/platform/%s" .name }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* One NetworkPolicy peer per rule: namespace and/or pod labels, or a CIDR. */}}
{{- define "ms.peer" -}}
{{- $peer := dict -}}
{{- if .cidr }}{{ $_ := set $peer "ipBlock" (dict "cidr" .cidr) }}{{ end -}}
{{- if .namespace }}{{ $_ := set $peer "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .namespace)) }}{{ end -}}
{{- if .podLabels }}{{ $_ := set $peer "podSelector" (dict "matchLabels" .podLabels) }}{{ end -}}
{{- toYaml (list $peer) -}}
{{- end -}}

{{- define "ms.ports" -}}
ports:
{{- range .ports }}
  - protocol: TCP
    port: {{ . }}
{{- end }}
{{- end -}}

{{/* Traefik's annotation form of a middleware reference: <namespace>-<name>@kubernetescrd. */}}
{{- define "ms.ingressMiddlewares" -}}
{{- $refs := list -}}
{{- range .Values.ingress.middlewares -}}
{{- $refs = append $refs (printf "%s-%s@kubernetescrd" (.namespace | default $.Release.Namespace) .name) -}}
{{- end -}}
{{- join "," $refs -}}
{{- end -}}

{{/* Traefik rule: the host and the API prefix (internal routes live on another port, never routed). */}}
{{- define "ms.ingressRouteMatch" -}}
{{- printf "Host(`%s`) && PathPrefix(`%s`)" .Values.ingress.host .Values.apiPrefix -}}
{{- end }}
