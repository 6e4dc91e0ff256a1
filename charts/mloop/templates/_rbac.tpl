{{/*
The operator's permissions, one rule per API group; docs/rbac.md justifies each verb. No wildcards.
"mloop.rbac.namespacedRules": what it needs in every namespace it reconciles (Secrets excluded).
*/}}
{{- define "mloop.rbac.namespacedRules" -}}
- apiGroups: [mloop.io]
  resources: [mlprojects, trainingruns, modelversions, modeldeployments, driftmonitors]
  verbs: [get, list, watch, patch]
- apiGroups: [mloop.io]
  resources: [trainingruns, modelversions]
  verbs: [create]
- apiGroups: [mloop.io]
  resources: [mlprojects/status, trainingruns/status, modelversions/status, modeldeployments/status, driftmonitors/status]
  verbs: [patch]
- apiGroups: [mloop.io]
  resources: [mlprojects/finalizers, trainingruns/finalizers, modeldeployments/finalizers, driftmonitors/finalizers]
  verbs: [update]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create]
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, create, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, create, patch, delete]
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [get, create, patch, delete]
{{- end -}}

{{- define "mloop.rbac.secretRules" -}}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end -}}

{{- define "mloop.rbac.crdRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
{{- end -}}

{{- define "mloop.rbac.subjects" -}}
- kind: ServiceAccount
  name: {{ include "mloop.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}
