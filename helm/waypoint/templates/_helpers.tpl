{{/* The Gateway's name: gateway.name, else the release name. */}}
{{- define "waypoint.gatewayName" -}}
{{- default .Release.Name .Values.gateway.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Deployment, Service, PDB and HPA share the Gateway's name, as Istio names a waypoint's objects. */}}
{{- define "waypoint.fullname" -}}
{{- include "waypoint.gatewayName" . -}}
{{- end -}}

{{- define "waypoint.serviceAccountName" -}}
{{- default (include "waypoint.gatewayName" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The Service's host name, written into the Gateway's spec.addresses. */}}
{{- define "waypoint.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "waypoint.fullname" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* Labels on every object: Helm's, and the Gateway API labels Istio puts on a waypoint's objects. */}}
{{- define "waypoint.labels" -}}
app.kubernetes.io/name: waypoint
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
gateway.networking.k8s.io/gateway-name: {{ include "waypoint.gatewayName" . | quote }}
gateway.networking.k8s.io/gateway-class-name: istio-waypoint
{{- end -}}

{{/* The pods' selector, as Istio's waypoint Service selects its pods. */}}
{{- define "waypoint.selector" -}}
gateway.networking.k8s.io/gateway-name: {{ include "waypoint.gatewayName" . | quote }}
{{- end -}}
