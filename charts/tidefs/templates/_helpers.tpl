{{/* SPDX-License-Identifier: Apache-2.0 */}}
{{/*
Names, labels and image references shared by every template.
*/}}

{{/* The CSI driver name: fixed in tidefs-csi (GetPluginInfo), not a value. */}}
{{- define "tidefs.driverName" -}}csi.tidefs.io{{- end -}}

{{- define "tidefs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>", or the release name when it already holds the chart name. */}}
{{- define "tidefs.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tidefs.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels: what a Deployment/DaemonSet selects its pods by. They are
immutable once installed, so they never include versions.
Call with (dict "ctx" $ "component" "controller").
*/}}
{{- define "tidefs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tidefs.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* Every object's labels. Same call as tidefs.selectorLabels. */}}
{{- define "tidefs.labels" -}}
{{ include "tidefs.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: tidefs
helm.sh/chart: {{ include "tidefs.chart" .ctx }}
{{- with .ctx.Values.customLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
An image reference. Call with (dict "ctx" $ "image" .Values.image.X);
an empty tag means the chart's appVersion.
*/}}
{{- define "tidefs.image" -}}
{{- $repo := .image.repository -}}
{{- with .ctx.Values.image.baseRepo }}{{ $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}{{ end -}}
{{- printf "%s:%s" $repo (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* The mount pod image: mountPod.image, falling back to image.tidefs. */}}
{{- define "tidefs.mountPodImage" -}}
{{- $img := dict "repository" (default .Values.image.tidefs.repository .Values.mountPod.image.repository) "tag" (default .Values.image.tidefs.tag .Values.mountPod.image.tag) -}}
{{- include "tidefs.image" (dict "ctx" . "image" $img) -}}
{{- end -}}

{{/* The StorageClass's Secret and its namespace. */}}
{{- define "tidefs.scSecretName" -}}
{{- default .Values.secret.name .Values.storageClass.secretName -}}
{{- end -}}
{{- define "tidefs.scSecretNamespace" -}}
{{- default .Release.Namespace .Values.storageClass.secretNamespace -}}
{{- end -}}

{{/* The socket the sidecars and tidefs-csi share, inside each pod. */}}
{{- define "tidefs.socketDir" -}}/csi{{- end -}}
{{- define "tidefs.socket" -}}/csi/csi.sock{{- end -}}

{{/* The node plugin's socket as the kubelet sees it on the host. */}}
{{- define "tidefs.nodeSocketHostDir" -}}
{{- printf "%s/plugins/%s" (trimSuffix "/" .Values.kubeletDir) (include "tidefs.driverName" .) -}}
{{- end -}}
