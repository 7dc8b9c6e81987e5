{{/*
Names are fixed rather than derived from the release: there is one operator per cluster (or per namespace in
guest mode), its Lease name is fixed in the code, and the objects keep the names config/ gives them, so that
docs, alerts and a switch between kustomize and Helm all refer to the same objects.
*/}}

{{/* Labels Helm adds to what config/ sets on every object. */}}
{{- define "konsumerator.helmLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Labels of an object of a component: (list $ "component"), or (list $ "") for none. */}}
{{- define "konsumerator.labels" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
app.kubernetes.io/name: konsumerator
{{- with $component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{ include "konsumerator.helmLabels" $root }}
{{- end }}

{{/*
The operator pod's selector. Kept equal to config/manager's (a selector is immutable), so a Deployment
installed with kustomize can be taken over by Helm.
*/}}
{{- define "konsumerator.selectorLabels" -}}
app.kubernetes.io/name: konsumerator
app.kubernetes.io/component: operator
{{- end }}

{{- define "konsumerator.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Renders "--name=value" unless value is null or empty: the operator's own default then applies. */}}
{{- define "konsumerator.flag" -}}
{{- $name := index . 0 -}}
{{- $value := index . 1 -}}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
- {{ printf "--%s=%v" $name $value | quote }}
{{- end }}
{{- end }}

{{/* An integer as digits (values from YAML are floats, which would print as 1e+06); empty for null or "". */}}
{{- define "konsumerator.int" -}}
{{- if and (not (kindIs "invalid" .)) (ne (toString .) "") }}{{ int64 . }}{{ end }}
{{- end }}
