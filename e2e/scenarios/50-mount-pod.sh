#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TIMEOUT: 900
# Mount pods (issue 9), for real: two application pods on the node use two
# PVs of one tidefs volume (Redis metadata, SeaweedFS blocks) and share ONE
# unprivileged mount pod; deleting that mount pod while both apps write and
# read does not disturb them (a replacement gets the same FUSE fd), their
# data verifies; deleting the apps removes the mount pod and its Secret.
#
# Needs the tidefs chart and image (issue 10) installed in the cluster with
# the node plugin started as `tidefs-csi --mounter pod` (hostPID for fd
# recovery, RBAC in docs/mount-pod.md). Exits 77 (skip) until they exist.
#   E2E_TIDEFS_IMAGE  the tidefs image (default: the node plugin's image)
. "$(dirname "$0")/../lib.sh"

if ! e2e_kubectl get csidriver csi.tidefs.io >/dev/null 2>&1; then
    e2e_log "SKIP: no CSIDriver csi.tidefs.io in the cluster (the chart of issue 10 is not installed)"
    exit 77
fi
node_ds=$(e2e_kubectl get daemonsets -A -o json |
    jq -r '.items[] | select([.spec.template.spec.containers[].args // [] | join(" ")] | join(" ") |
           test("--mode[ =]node")) | "\(.metadata.namespace)/\(.metadata.name)"' | head -n 1)
if [ -z "$node_ds" ]; then
    e2e_log "SKIP: no DaemonSet runs tidefs-csi --mode node"
    exit 77
fi
if ! e2e_kubectl get daemonset -n "${node_ds%/*}" "${node_ds#*/}" -o json |
    jq -e '[.spec.template.spec.containers[].args // [] | join(" ")] | join(" ") | test("--mounter[ =]pod")' >/dev/null; then
    e2e_log "SKIP: the node plugin $node_ds does not run with --mounter pod"
    exit 77
fi
image=${E2E_TIDEFS_IMAGE:-$(e2e_kubectl get daemonset -n "${node_ds%/*}" "${node_ds#*/}" -o json |
    jq -r '.spec.template.spec.containers[] | select(.name == "tidefs-csi") | .image')}

e2e_test_ns mountpod
ns=$E2E_NS
e2e_deploy_services "$ns"
meta="redis://redis.$ns.svc.cluster.local:6379/1"
bucket="http://s3.$ns.svc.cluster.local:8333/mountpod"

# format the volume from a pod with the tidefs image
e2e_kubectl -n "$ns" run format --image="$image" --image-pull-policy=IfNotPresent --restart=Never \
    --command -- tidefs format --storage s3 --bucket "$bucket" "$meta" e2evol >/dev/null
formatted() { [ "$(e2e_kubectl -n "$ns" get pod format -o jsonpath='{.status.phase}')" = Succeeded ]; }
e2e_wait 180 "tidefs format" formatted

e2e_kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Secret
metadata: {name: tidefs-vol}
stringData: {metaurl: "$meta", name: e2evol}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: tidefs-$ns}
provisioner: csi.tidefs.io
reclaimPolicy: Delete
parameters:
  csi.storage.k8s.io/provisioner-secret-name: tidefs-vol
  csi.storage.k8s.io/provisioner-secret-namespace: $ns
  csi.storage.k8s.io/node-publish-secret-name: tidefs-vol
  csi.storage.k8s.io/node-publish-secret-namespace: $ns
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pv-a}
spec: {storageClassName: tidefs-$ns, accessModes: [ReadWriteMany], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pv-b}
spec: {storageClassName: tidefs-$ns, accessModes: [ReadWriteMany], resources: {requests: {storage: 1Gi}}}
YAML

# An app writes numbered files of known content and reads each back, for
# ever; any error or mismatch is written to /data/ERRORS and ends it.
app() {
    cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: app-$1, labels: {app: mountpod-e2e}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: app
      image: $E2E_TOOLS_IMAGE
      imagePullPolicy: Never
      command: [sh, -c]
      args:
        - |
          i=0
          while :; do
            f=/data/f\$((i % 50)); v="$1 \$i"
            { echo "\$v" > "\$f" && [ "\$(cat "\$f")" = "\$v" ]; } || { echo "round \$i: \$?" >> /data/ERRORS; exit 1; }
            echo "\$i" > /data/progress; i=\$((i + 1)); sleep 0.05
          done
      volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: pv-$1}}]
YAML
}
{ app a; echo ---; app b; } | e2e_kubectl -n "$ns" apply -f - >/dev/null
for a in a b; do
    e2e_kubectl -n "$ns" wait --for=condition=Ready "pod/app-$a" --timeout=240s >/dev/null
done

mount_pods() {
    e2e_kubectl get pods -A -l app.kubernetes.io/managed-by=tidefs-csi,app.kubernetes.io/name=tidefs-mount \
        -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | "\(.metadata.namespace)/\(.metadata.name)"'
}
progress() { e2e_kubectl -n "$ns" exec "app-$1" -- cat /data/progress; }
e2e_expect "one mount pod serves both PVs" "$(mount_pods | wc -l)" 1
mp=$(mount_pods)
e2e_expect "the mount pod runs as non-root without capabilities" \
    "$(e2e_kubectl get pod -n "${mp%/*}" "${mp#*/}" -o json |
       jq -r '.spec.containers[0].securityContext | "\(.runAsNonRoot) \(.allowPrivilegeEscalation) \(.capabilities.drop[0])"')" \
    "true false ALL"

# delete the mount pod while both apps work
before_a=$(progress a) before_b=$(progress b)
e2e_kubectl delete pod -n "${mp%/*}" "${mp#*/}" --wait=false >/dev/null
replaced() { local m; m=$(mount_pods); [ -n "$m" ] && [ "$m" != "$mp" ]; }
e2e_wait 120 "a replacement mount pod" replaced
sleep 10
for a in a b; do
    e2e_expect "app-$a still running" "$(e2e_kubectl -n "$ns" get pod "app-$a" -o jsonpath='{.status.phase}')" Running
    e2e_expect "app-$a saw no error" "$(e2e_kubectl -n "$ns" exec "app-$a" -- sh -c 'cat /data/ERRORS 2>/dev/null')" ""
done
e2e_expect "app-a progressed" "$([ "$(progress a)" -gt "$before_a" ] && echo yes)" yes
e2e_expect "app-b progressed" "$([ "$(progress b)" -gt "$before_b" ] && echo yes)" yes
e2e_expect "PVs are separate" "$(e2e_kubectl -n "$ns" exec app-a -- sh -c 'cat /data/f0' | cut -d' ' -f1)" a

# deleting the apps (and their PVCs) removes the mount pod
e2e_kubectl -n "$ns" delete pod app-a app-b --wait=true --timeout=120s >/dev/null
no_mount_pods() { [ -z "$(e2e_kubectl get pods -A -l app.kubernetes.io/managed-by=tidefs-csi -o name)" ]; }
e2e_wait 120 "the mount pod to go" no_mount_pods
e2e_expect "the mount pod's Secrets are gone" \
    "$(e2e_kubectl get secrets -A -l app.kubernetes.io/managed-by=tidefs-csi -o name | wc -l)" 0
