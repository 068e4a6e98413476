{{/* Names and labels shared by every object of the chart. */}}
{{- define "scutum.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "scutum.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "scutum.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "scutum.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "scutum.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scutum.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "scutum.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "scutum.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "scutum.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "scutum.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image, pinned by tag (never "latest") and optionally by digest. */}}
{{- define "scutum.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if eq $tag "latest" }}
{{- fail "image.tag must be a fixed version, not \"latest\"" }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The generated RBAC rules (agent.rbac); section is cluster, namespaced, clusterScoped or lease. */}}
{{- define "scutum.rbacRules" -}}
{{- $all := .root.Files.Get "files/rbac-rules.yaml" | fromYaml }}
{{- $rules := index $all .section }}
{{- if not $rules }}
{{- fail (printf "files/rbac-rules.yaml has no %s rules: run `make docs` to regenerate it" .section) }}
{{- end }}
{{- toYaml $rules }}
{{- end }}

{{/* Refuse the combinations that would lose data or act twice. */}}
{{- define "scutum.validate" -}}
{{- if gt (int .Values.replicaCount) 1 }}
{{- if not .Values.database.existingSecret }}
{{- fail "replicaCount > 1 needs a shared PostgreSQL database: set database.existingSecret to a Secret holding its URL. SQLite on a ReadWriteOnce volume serves one replica; more would split the approvals queue and the audit chain and lose data." }}
{{- end }}
{{- if not .Values.leaderElection.enabled }}
{{- fail "replicaCount > 1 needs leaderElection.enabled: true, or every replica would act on the same incident." }}
{{- end }}
{{- end }}
{{- if and .Values.database.ownerSecret (not .Values.database.existingSecret) }}
{{- fail "database.ownerSecret needs database.existingSecret: the runtime role's URL, which the daemon uses." }}
{{- end }}
{{- if has .Release.Namespace .Values.managedNamespaces }}
{{- fail (printf "managedNamespaces must not include the release namespace %s: the agent's own namespace is protected." .Release.Namespace) }}
{{- end }}
{{- if and .Values.rbac.namespaced (not .Values.managedNamespaces) }}
{{- fail "rbac.namespaced: true needs managedNamespaces: the list of namespaces to grant Roles in." }}
{{- end }}
{{- end }}

{{- define "scutum.usesSqlite" -}}
{{- if and (not .Values.database.existingSecret) .Values.persistence.enabled }}true{{ end }}
{{- end }}

{{/* The ConfigMap that witnesses signed checkpoints of the audit chain. */}}
{{- define "scutum.checkpointConfigMap" -}}
{{- printf "%s-checkpoints" (include "scutum.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
