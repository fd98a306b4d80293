{{/*
Names, labels and values shared by the templates (helm create / Bitnami conventions).
*/}}

{{/* Chart name, overridable with nameOverride. */}}
{{- define "solgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified app name (release + chart, unless the release name already contains the chart name).
Truncated to 63 characters minus room for the longest suffix we append ("-headless", "-redis-...").
*/}}
{{- define "solgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "solgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "solgate.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "solgate.labels" -}}
helm.sh/chart: {{ include "solgate.chart" . }}
{{ include "solgate.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: solgate
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Immutable selector labels (never add anything that changes between releases). */}}
{{- define "solgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "solgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "solgate.conductor.selectorLabels" -}}
{{ include "solgate.selectorLabels" . }}
app.kubernetes.io/component: conductor
{{- end -}}

{{- define "solgate.redis.selectorLabels" -}}
{{ include "solgate.selectorLabels" . }}
app.kubernetes.io/component: redis
{{- end -}}

{{/* commonAnnotations as a metadata block (empty when there are none). */}}
{{- define "solgate.annotations" -}}
{{- with .Values.commonAnnotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "solgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "solgate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "solgate.headlessServiceName" -}}
{{- printf "%s-headless" (include "solgate.fullname" .) -}}
{{- end -}}

{{- define "solgate.configMapName" -}}
{{- printf "%s-env" (include "solgate.fullname" .) -}}
{{- end -}}

{{/* Label that admits a pod to the API port when networkPolicy.api.allowExternal is false. */}}
{{- define "solgate.clientLabel" -}}
{{- printf "%s-client" (include "solgate.fullname" .) -}}
{{- end -}}

{{/* Label that admits a pod to the bundled Redis. */}}
{{- define "solgate.redis.clientLabel" -}}
{{- printf "%s-redis-client" (include "solgate.fullname" .) -}}
{{- end -}}

{{/*
Image reference: [global.imageRegistry|registry]/repository(@digest|:tag).
Usage: include "solgate.image" (dict "image" .Values.image "global" .Values.global "defaultTag" .Chart.AppVersion)
*/}}
{{- define "solgate.image" -}}
{{- $registry := .image.registry -}}
{{- if and .global .global.imageRegistry -}}
{{- $registry = .global.imageRegistry -}}
{{- end -}}
{{- $ref := .image.repository -}}
{{- if $registry -}}
{{- $ref = printf "%s/%s" $registry .image.repository -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (toString (default .defaultTag .image.tag)) -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets from global and the given image (list of names). */}}
{{- define "solgate.imagePullSecrets" -}}
{{- $names := list -}}
{{- range .Values.global.imagePullSecrets -}}
{{- $names = append $names . -}}
{{- end -}}
{{- range .Values.image.pullSecrets -}}
{{- $names = append $names . -}}
{{- end -}}
{{- if $names -}}
imagePullSecrets:
{{- range ($names | uniq) }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
Render a duration in seconds for a SOLGATE_* variable: integers without a decimal point, fractions as
written (Go prints YAML numbers as float64; 1 must become "1", 0.1 "0.1").
*/}}
{{- define "solgate.seconds" -}}
{{- if eq (float64 .) (float64 (int64 .)) -}}
{{- int64 . -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/*
Handover budget: the least terminationGracePeriodSeconds that covers a graceful leave. The leave
stops every console (SIGTERM, SIGKILL after killTimeout), then releases claims and membership in
Redis; a Redis that is slow or failing over may hold those last steps for up to heartbeatTimeout.
The extra 10 s covers process exit, a few hundred ms per thousand consoles, and scheduling jitter.
*/}}
{{- define "solgate.handoverSeconds" -}}
{{- $s := addf .Values.conductor.killTimeout .Values.conductor.heartbeatTimeout 10 -}}
{{- ceil $s | int -}}
{{- end -}}

{{/* ---------------------------------------------------------------------------------------------
Redis
--------------------------------------------------------------------------------------------- */}}

{{- define "solgate.redis.fullname" -}}
{{- printf "%s-redis" (include "solgate.fullname" .) -}}
{{- end -}}

{{/* true when the conductors need a Redis password (rendered as "true" or ""). */}}
{{- define "solgate.redis.passwordEnabled" -}}
{{- if .Values.redis.enabled -}}
{{- if .Values.redis.auth.enabled -}}true{{- end -}}
{{- else if or .Values.externalRedis.password .Values.externalRedis.existingSecret -}}
true
{{- end -}}
{{- end -}}

{{/* Secret holding the Redis password: an existing one or the chart's. */}}
{{- define "solgate.redis.secretName" -}}
{{- if and .Values.redis.enabled .Values.redis.auth.existingSecret -}}
{{- .Values.redis.auth.existingSecret -}}
{{- else if and (not .Values.redis.enabled) .Values.externalRedis.existingSecret -}}
{{- .Values.externalRedis.existingSecret -}}
{{- else -}}
{{- printf "%s-redis" (include "solgate.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "solgate.redis.secretPasswordKey" -}}
{{- if and .Values.redis.enabled .Values.redis.auth.existingSecret -}}
{{- .Values.redis.auth.existingSecretPasswordKey -}}
{{- else if and (not .Values.redis.enabled) .Values.externalRedis.existingSecret -}}
{{- .Values.externalRedis.existingSecretPasswordKey -}}
{{- else -}}
redis-password
{{- end -}}
{{- end -}}

{{/* Whether the chart itself must create the Redis password Secret ("true" or ""). */}}
{{- define "solgate.redis.createSecret" -}}
{{- if .Values.redis.enabled -}}
{{- if and .Values.redis.auth.enabled (not .Values.redis.auth.existingSecret) -}}true{{- end -}}
{{- else if and .Values.externalRedis.password (not .Values.externalRedis.existingSecret) -}}
true
{{- end -}}
{{- end -}}

{{/*
SOLGATE_REDIS_URL. The password is never written here: it is referenced as $(REDIS_PASSWORD), which
Kubernetes expands from the REDIS_PASSWORD variable (a secretKeyRef) defined before it in the
container's env. Forms (see libs/redis/src/connection.ts):
  redis://[user]:<password>@host:port/db
  redis-sentinel://<password>@h1:26379,h2:26379/<master>[/db]
*/}}
{{- define "solgate.redis.url" -}}
{{- $pw := include "solgate.redis.passwordEnabled" . -}}
{{- if .Values.redis.enabled -}}
{{- $host := printf "%s.%s.svc.%s" (include "solgate.redis.fullname" .) (include "solgate.namespace" .) .Values.clusterDomain -}}
{{- printf "redis://%s%s:%d/0" (ternary ":$(REDIS_PASSWORD)@" "" (eq $pw "true")) $host (int .Values.redis.port) -}}
{{- else if .Values.externalRedis.sentinel.enabled -}}
{{- $s := .Values.externalRedis.sentinel -}}
{{- printf "redis-sentinel://%s%s/%s" (ternary "$(REDIS_PASSWORD)@" "" (eq $pw "true")) (join "," $s.hosts) $s.masterName -}}
{{- if $s.db }}/{{ $s.db | int }}{{ end -}}
{{- else -}}
{{- $u := urlParse .Values.externalRedis.url -}}
{{- $auth := "" -}}
{{- if eq $pw "true" -}}
{{- $auth = printf "%s:$(REDIS_PASSWORD)@" ($u.userinfo | default "") -}}
{{- else if $u.userinfo -}}
{{- $auth = printf "%s@" $u.userinfo -}}
{{- end -}}
{{- printf "%s://%s%s%s" $u.scheme $auth $u.host $u.path -}}
{{- if $u.query }}?{{ $u.query }}{{ end -}}
{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------------------------------------------
API token
--------------------------------------------------------------------------------------------- */}}

{{- define "solgate.auth.secretName" -}}
{{- default (printf "%s-auth" (include "solgate.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "solgate.auth.secretTokenKey" -}}
{{- if .Values.auth.existingSecret -}}
{{- .Values.auth.existingSecretTokenKey -}}
{{- else -}}
api-token
{{- end -}}
{{- end -}}

{{/*
A password or token for a Secret the chart owns: the value given, else the one already stored in the
cluster (so upgrades keep it), else a new random one. `helm template` has no cluster: it always
generates. Usage: include "solgate.secretValue" (dict "ctx" $ "secret" NAME "key" KEY "value" GIVEN)
*/}}
{{- define "solgate.secretValue" -}}
{{- if .value -}}
{{- .value -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" (include "solgate.namespace" .ctx) .secret -}}
{{- if and $existing (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 40 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------------------------------------------
Pod placement
--------------------------------------------------------------------------------------------- */}}

{{/* Anti-affinity across nodes: hard with hostNetwork (consoles bind the host's port range). */}}
{{- define "solgate.conductor.affinity" -}}
{{- if .Values.affinity -}}
{{- toYaml .Values.affinity -}}
{{- else -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "solgate.conductor.selectorLabels" . | fromYaml)) -}}
podAntiAffinity:
{{- if or .Values.hostNetwork (eq .Values.podAntiAffinityPreset "hard") }}
  requiredDuringSchedulingIgnoredDuringExecution:
    {{- list $term | toYaml | nindent 4 }}
{{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        {{- toYaml $term | nindent 8 }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------------------------------------------
Validation: fail fast, with every problem listed, on values that contradict each other.
values.schema.json already rejects wrong types and unknown keys.
--------------------------------------------------------------------------------------------- */}}
{{- define "solgate.validateValues" -}}
{{- $messages := list -}}
{{- $messages = append $messages (include "solgate.validateValues.redis" .) -}}
{{- $messages = append $messages (include "solgate.validateValues.auth" .) -}}
{{- $messages = append $messages (include "solgate.validateValues.consoleTls" .) -}}
{{- $messages = append $messages (include "solgate.validateValues.ports" .) -}}
{{- $messages = append $messages (include "solgate.validateValues.timing" .) -}}
{{- $messages = append $messages (include "solgate.validateValues.networkPolicy" .) -}}
{{- $messages = append $messages (include "solgate.validateValues.hostNetwork" .) -}}
{{- $messages = without $messages "" -}}
{{- if $messages -}}
{{- printf "\nVALUES VALIDATION:\n%s" (join "\n" $messages) | fail -}}
{{- end -}}
{{- end -}}

{{- define "solgate.validateValues.redis" -}}
{{- $ext := .Values.externalRedis -}}
{{- if .Values.redis.enabled -}}
{{- if or $ext.url $ext.sentinel.enabled }}
solgate: redis.enabled
    The bundled Redis is enabled and an external Redis is configured too (externalRedis.url or
    externalRedis.sentinel.enabled). Choose one: --set redis.enabled=false to use the external one.
{{- end -}}
{{- if and .Values.redis.auth.password .Values.redis.auth.existingSecret }}
solgate: redis.auth
    Both redis.auth.password and redis.auth.existingSecret are set: the password would be ignored.
    Keep only one.
{{- end -}}
{{- if and .Values.redis.auth.password (not (regexMatch "^[A-Za-z0-9._~-]+$" .Values.redis.auth.password)) }}
solgate: redis.auth.password
    The password goes into SOLGATE_REDIS_URL and must be URL-safe (letters, digits, . _ ~ -).
{{- end -}}
{{- else -}}
{{- if and $ext.url $ext.sentinel.enabled }}
solgate: externalRedis
    Both externalRedis.url and externalRedis.sentinel.enabled are set. Use the URL for a standalone
    Redis or Sentinel (hosts + masterName), not both.
{{- else if and (not $ext.url) (not $ext.sentinel.enabled) }}
solgate: externalRedis
    No Redis: the bundled Redis is disabled (redis.enabled=false) and neither externalRedis.url nor
    externalRedis.sentinel is set.
{{- end -}}
{{- if $ext.sentinel.enabled -}}
{{- if not $ext.sentinel.masterName }}
solgate: externalRedis.sentinel.masterName
    Sentinel is enabled without a master name (the name in the Sentinels' "sentinel monitor" line).
{{- end -}}
{{- if not $ext.sentinel.hosts }}
solgate: externalRedis.sentinel.hosts
    Sentinel is enabled without any Sentinel address (host:port).
{{- end -}}
{{- end -}}
{{- if $ext.url -}}
{{- if not (regexMatch "^rediss?://[^\\s/]+(/[0-9]+)?$" $ext.url) }}
solgate: externalRedis.url
    "{{ $ext.url }}" is not redis://[user@]host:port[/db] or rediss://... (use externalRedis.sentinel
    for Sentinel).
{{- else if regexMatch "^rediss?://[^@/]*:[^@/]*@" $ext.url }}
solgate: externalRedis.url
    The URL contains a password. Put it in a Secret (externalRedis.existingSecret) or in
    externalRedis.password instead: the URL is visible in the pod spec.
{{- end -}}
{{- end -}}
{{- if and $ext.password $ext.existingSecret }}
solgate: externalRedis
    Both externalRedis.password and externalRedis.existingSecret are set. Keep only one.
{{- end -}}
{{- if and $ext.password (not (regexMatch "^[A-Za-z0-9._~-]+$" $ext.password)) }}
solgate: externalRedis.password
    The password goes into SOLGATE_REDIS_URL and must be URL-safe (letters, digits, . _ ~ -).
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "solgate.validateValues.auth" -}}
{{- if and .Values.auth.token .Values.auth.existingSecret }}
solgate: auth
    Both auth.token and auth.existingSecret are set: the token would be ignored. Keep only one.
{{- end -}}
{{- if and (not .Values.auth.enabled) (or .Values.auth.token .Values.auth.existingSecret) }}
solgate: auth.enabled
    auth.enabled is false but a token (auth.token or auth.existingSecret) is given. Enable auth or
    drop the token.
{{- end -}}
{{- end -}}

{{- define "solgate.validateValues.consoleTls" -}}
{{- if and .Values.consoleTls.enabled (not .Values.consoleTls.existingSecret) }}
solgate: consoleTls.existingSecret
    consoleTls.enabled is true but no Secret is named: create one with the PEM certificate and key
    (kubectl create secret tls <name> --cert=... --key=..., or cert-manager) and set
    consoleTls.existingSecret to its name.
{{- end -}}
{{- if and .Values.consoleTls.clientCA (not .Values.consoleTls.enabled) }}
solgate: consoleTls.clientCA
    consoleTls.clientCA needs consoleTls.enabled: client certificates are checked in the TLS handshake.
{{- end -}}
{{- end -}}

{{- define "solgate.validateValues.ports" -}}
{{- $r := .Values.conductor.portRange -}}
{{- $api := int .Values.conductor.apiPort -}}
{{- if ge (int $r.start) (int $r.stop) }}
solgate: conductor.portRange
    start ({{ $r.start }}) must be lower than stop ({{ $r.stop }}; stop is exclusive).
{{- else if and (ge $api (int $r.start)) (lt $api (int $r.stop)) }}
solgate: conductor.portRange
    The API port {{ $api }} is inside the console port range {{ $r.start }}:{{ $r.stop }}; a console
    could not bind it, or would take it from the API. Move one of them.
{{- end -}}
{{- if and .Values.hostNetwork .Values.redis.enabled (ge (int .Values.redis.port) (int $r.start)) (lt (int .Values.redis.port) (int $r.stop)) }}
solgate: conductor.portRange
    With hostNetwork the console port range {{ $r.start }}:{{ $r.stop }} must not include the Redis port {{ .Values.redis.port }}.
{{- end -}}
{{- end -}}

{{- define "solgate.validateValues.timing" -}}
{{- $c := .Values.conductor -}}
{{- if lt (float64 $c.heartbeatTimeout) (mulf 2 $c.heartbeatInterval) }}
solgate: conductor.heartbeatTimeout
    heartbeatTimeout ({{ $c.heartbeatTimeout }}s) must be at least twice heartbeatInterval ({{ $c.heartbeatInterval }}s).
{{- end -}}
{{- $need := include "solgate.handoverSeconds" . | int -}}
{{- if lt (int .Values.terminationGracePeriodSeconds) $need }}
solgate: terminationGracePeriodSeconds
    {{ .Values.terminationGracePeriodSeconds }}s is too short for a graceful handover: it must be at least
    conductor.killTimeout + conductor.heartbeatTimeout + 10 = {{ $need }}s, or Kubernetes kills the
    conductor before it has stopped its consoles and released them.
{{- end -}}
{{- end -}}

{{- define "solgate.validateValues.networkPolicy" -}}
{{- if and .Values.networkPolicy.enabled (not .Values.hostNetwork) (not .Values.networkPolicy.serialProxy.from) }}
solgate: networkPolicy.serialProxy.from
    The NetworkPolicy would admit nobody to the console ports, so nova-serialproxy could not connect.
    List the serial proxy's pods (podSelector + namespaceSelector) or addresses (ipBlock).
{{- end -}}
{{- end -}}

{{- define "solgate.validateValues.hostNetwork" -}}
{{- if .Values.hostNetwork -}}
{{- if .Values.networkPolicy.enabled }}
solgate: hostNetwork
    NetworkPolicies do not apply to pods in the host network, so the console ports could not be
    restricted to nova-serialproxy. Set networkPolicy.enabled=false and firewall the nodes' port
    range {{ .Values.conductor.portRange.start }}:{{ .Values.conductor.portRange.stop }} instead.
{{- end -}}
{{- if and .Values.affinity (not (dig "podAntiAffinity" "requiredDuringSchedulingIgnoredDuringExecution" nil .Values.affinity)) }}
solgate: affinity
    With hostNetwork two conductors on one host would share its ports. A custom affinity must
    include podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution (or leave affinity empty).
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Where the conductor reads the console TLS files (the consoleTls Secret, mounted read-only).
*/}}
{{- define "solgate.consoleTls.dir" -}}
/etc/solgate/console-tls
{{- end -}}
