{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "keygate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release-chart unless the release already contains it. */}}
{{- define "keygate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "keygate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "keygate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "keygate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "keygate.labels" -}}
helm.sh/chart: {{ include "keygate.chart" . }}
{{ include "keygate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: identity-provider
{{- end }}

{{- define "keygate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "keygate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "keygate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* true when the SQLite store is in use. */}}
{{- define "keygate.sqlite" -}}
{{- if eq .Values.database.type "sqlite" }}true{{ end }}
{{- end }}

{{/* true when the management listener (metrics) is on. */}}
{{- define "keygate.metrics" -}}
{{- if or .Values.metrics.enabled .Values.serviceMonitor.enabled }}true{{ end }}
{{- end }}

{{/* The public base URL: hostname, else the Ingress's first host. */}}
{{- define "keygate.hostname" -}}
{{- if .Values.hostname }}
{{- .Values.hostname }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- $host := (first .Values.ingress.hosts).host }}
{{- $tls := false }}
{{- range .Values.ingress.tls }}
{{- if has $host (.hosts | default list) }}{{ $tls = true }}{{ end }}
{{- end }}
{{- printf "%s://%s" (ternary "https" "http" $tls) $host }}
{{- end }}
{{- end }}

{{/* --proxy-headers: as set, else xforwarded behind the chart's Ingress. */}}
{{- define "keygate.proxyHeaders" -}}
{{- if .Values.proxy.headers }}
{{- .Values.proxy.headers }}
{{- else if .Values.ingress.enabled }}
{{- "xforwarded" }}
{{- end }}
{{- end }}

{{/* The PVC holding the SQLite file. */}}
{{- define "keygate.claimName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "keygate.fullname" .)) }}
{{- end }}

{{/*
Refuses values that would deploy something broken or unsafe. Every template
includes it, so helm lint, template and install all stop with the reason.
*/}}
{{- define "keygate.validate" -}}
{{- $db := .Values.database.type }}
{{- if not (has $db (list "sqlite" "postgres")) }}
{{- fail (printf "database.type %q: want sqlite or postgres" $db) }}
{{- end }}
{{- if and (eq $db "sqlite") (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount %d with database.type sqlite: SQLite is one file that one process owns, so it means exactly one replica. For several replicas set database.type postgres and database.postgres.existingSecret." (int .Values.replicaCount)) }}
{{- end }}
{{- if and (eq $db "postgres") (not .Values.database.postgres.existingSecret) }}
{{- fail "database.type postgres needs database.postgres.existingSecret: the name of a Secret whose key database.postgres.secretKey holds the postgres:// DSN" }}
{{- end }}
{{- if not (has (include "keygate.proxyHeaders" .) (list "" "xforwarded")) }}
{{- fail (printf "proxy.headers %q: want \"\" or xforwarded" .Values.proxy.headers) }}
{{- end }}
{{- if and .Values.proxy.trustedAddresses (not (include "keygate.proxyHeaders" .)) }}
{{- fail "proxy.trustedAddresses needs proxy.headers: xforwarded (or ingress.enabled)" }}
{{- end }}
{{- if and .Values.hostname (not (regexMatch "^https?://[^/]+" .Values.hostname)) }}
{{- fail (printf "hostname %q: want a URL such as https://sso.example.com" .Values.hostname) }}
{{- end }}
{{- range $i, $imp := .Values.importRealm }}
{{- if ne (len (compact (list ($imp.configMap | default "") ($imp.secret | default "")))) 1 }}
{{- fail (printf "importRealm[%d]: name exactly one of configMap or secret" $i) }}
{{- end }}
{{- if empty $imp.files }}
{{- fail (printf "importRealm[%d]: files lists the keys to import, e.g. files: [acme-realm.json]" $i) }}
{{- end }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if and (has .name (list "KC_BOOTSTRAP_ADMIN_PASSWORD" "KEYGATE_BOOTSTRAP_ADMIN_PASSWORD" "KEYGATE_DB_KEY")) (hasKey . "value") }}
{{- fail (printf "extraEnv %s: a secret in plain values; use bootstrapAdmin.existingSecret / dbKey.existingSecret (or valueFrom.secretKeyRef)" .name) }}
{{- end }}
{{- end }}
{{- end }}
