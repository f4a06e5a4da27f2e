{{- define "platform.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* NetworkPolicy peer: any namespace, a namespace and/or pod labels, or a CIDR. */}}
{{- define "platform.peer" -}}
{{- $peer := dict -}}
{{- if .cidr }}{{ $_ := set $peer "ipBlock" (dict "cidr" .cidr) }}{{ end -}}
{{- if .anyNamespace }}{{ $_ := set $peer "namespaceSelector" (dict) }}{{ end -}}
{{- if .namespace }}{{ $_ := set $peer "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .namespace)) }}{{ end -}}
{{- if .podLabels }}{{ $_ := set $peer "podSelector" (dict "matchLabels" .podLabels) }}{{ end -}}
{{- toYaml (list $peer) -}}
{{- end -}}

{{- define "platform.ports" -}}
{{- with .ports }}
ports:
{{- range . }}
  - protocol: TCP
    port: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "platform.crEnabled" -}}
{{- if or .root.Values.forceCustomResources (.root.Capabilities.APIVersions.Has .api) -}}true{{- end -}}
{{- end -}}
