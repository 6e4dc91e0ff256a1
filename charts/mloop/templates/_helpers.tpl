{{/* Names, labels and images shared by every template. */}}

{{- define "mloop.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name: "mloop" for a release named mloop, else "<release>-mloop". */}}
{{- define "mloop.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mloop.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "mloop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mloop
{{- end -}}

{{/* Pod labels the NetworkPolicies select on: part-of plus component (operator, minio). */}}
{{- define "mloop.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mloop.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: mloop
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "mloop.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mloop.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Image of a component: an explicit override, else <repository>/mloop-<component>:<tag or appVersion>. */}}
{{- define "mloop.image" -}}
{{- $override := index .root.Values.image.overrides .component -}}
{{- if $override -}}
{{- $override -}}
{{- else -}}
{{- printf "%s/mloop-%s:%s" (trimSuffix "/" .root.Values.image.repository) .component (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Namespaces with mloop projects: the watched ones in namespaced mode, else projectNamespaces. */}}
{{- define "mloop.projectNamespaces" -}}
{{- if .Values.watchNamespaces -}}
{{- toJson .Values.watchNamespaces -}}
{{- else -}}
{{- toJson .Values.projectNamespaces -}}
{{- end -}}
{{- end -}}

{{- define "mloop.minio.fullname" -}}
{{- printf "%s-minio" (include "mloop.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mloop.minio.secretName" -}}
{{- default (include "mloop.minio.fullname" .) .Values.minio.auth.existingSecret -}}
{{- end -}}

{{/* The S3 endpoint (host:port): the bundled MinIO's cluster-wide DNS name when enabled, else s3.endpoint. */}}
{{- define "mloop.s3.endpoint" -}}
{{- if .Values.minio.enabled -}}
{{- printf "%s.%s.svc:9000" (include "mloop.minio.fullname" .) .Release.Namespace -}}
{{- else if .Values.s3.endpoint -}}
{{- .Values.s3.endpoint -}}
{{- else -}}
{{- fail "s3.endpoint is required unless minio.enabled=true" -}}
{{- end -}}
{{- end -}}

{{- define "mloop.s3.secure" -}}
{{- if .Values.minio.enabled }}false{{ else }}{{ .Values.s3.secure }}{{ end -}}
{{- end -}}

{{/* Secret with the operator's own S3 credentials: explicit, else the bundled MinIO's; empty for none. */}}
{{- define "mloop.s3.secretName" -}}
{{- if .Values.s3.existingSecret -}}
{{- .Values.s3.existingSecret -}}
{{- else if .Values.minio.enabled -}}
{{- include "mloop.minio.secretName" . -}}
{{- end -}}
{{- end -}}

{{/* The restricted Pod Security Standard, as the operator's own builders apply it (reconcile/pods.py). */}}
{{- define "mloop.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "mloop.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
