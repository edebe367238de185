#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TIMEOUT: 300
# The cluster really runs pods with volumes:
#   1. a pod with an emptyDir and a hostPath volume reaches Running, writes
#      1 MiB of random data to both; the sha256 read back inside the pod and
#      the one of the file on the node (outside the pod) agree;
#   2. a PVC of the default StorageClass binds, and a second pod reads back
#      what the first one wrote into it (the PV machinery and the kubelet's
#      volume manager work end to end);
#   3. the pods reach each other over the pod network.
. "$(dirname "$0")/../lib.sh"

e2e_test_ns basics
ns=$E2E_NS
hostdir=/var/tmp/tidefs-e2e-basics
node=$(e2e_node_name)
e2e_docker exec "$node" rm -rf "$hostdir"

e2e_kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 16Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer, labels: {app: writer}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: writer
      image: $E2E_TOOLS_IMAGE
      imagePullPolicy: Never
      command: [sh, -ec]
      args:
        - |
          head -c 1048576 /dev/urandom >/scratch/data
          cp /scratch/data /host/data
          cp /scratch/data /pvc/data
          sha256sum /scratch/data | cut -d' ' -f1 >/scratch/sha
          touch /scratch/done
          exec sleep 3600
      readinessProbe:
        exec: {command: [test, -f, /scratch/done]}
        periodSeconds: 1
      volumeMounts:
        - {name: scratch, mountPath: /scratch}
        - {name: host, mountPath: /host}
        - {name: pvc, mountPath: /pvc}
  volumes:
    - name: scratch
      emptyDir: {}
    - name: host
      hostPath: {path: $hostdir, type: DirectoryOrCreate}
    - name: pvc
      persistentVolumeClaim: {claimName: data}
YAML

e2e_kubectl -n "$ns" wait --for=condition=Ready pod/writer --timeout=180s >/dev/null
e2e_expect "writer pod phase" "$(e2e_kubectl -n "$ns" get pod writer -o jsonpath='{.status.phase}')" Running
e2e_expect "PVC bound" "$(e2e_kubectl -n "$ns" get pvc data -o jsonpath='{.status.phase}')" Bound

want=$(e2e_kubectl -n "$ns" exec writer -- cat /scratch/sha)
[ ${#want} -eq 64 ] || { e2e_log "FAIL: no sha256 from the writer: '$want'"; exit 1; }
e2e_expect "emptyDir data read in the pod" "$(e2e_kubectl -n "$ns" exec writer -- sha256sum /scratch/data | cut -d' ' -f1)" "$want"
e2e_expect "hostPath data read on the node" "$(e2e_docker exec "$node" sha256sum "$hostdir/data" | cut -d' ' -f1)" "$want"

# A second pod mounts the same claim and reads what the writer wrote.
e2e_kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: reader
      image: $E2E_TOOLS_IMAGE
      imagePullPolicy: Never
      command: [sleep, "3600"]
      volumeMounts: [{name: pvc, mountPath: /pvc}]
  volumes:
    - name: pvc
      persistentVolumeClaim: {claimName: data}
YAML
e2e_kubectl -n "$ns" wait --for=condition=Ready pod/reader --timeout=120s >/dev/null
e2e_expect "PVC data read by a second pod" "$(e2e_kubectl -n "$ns" exec reader -- sha256sum /pvc/data | cut -d' ' -f1)" "$want"

# Pod-to-pod over the pod network (ptp CNI): the reader asks a throwaway
# redis-server on the writer's pod IP for a value the writer stored.
writer_ip=$(e2e_kubectl -n "$ns" get pod writer -o jsonpath='{.status.podIP}')
e2e_kubectl -n "$ns" exec writer -- sh -c 'redis-server --port 7000 --protected-mode no --save "" --daemonize yes >/dev/null'
e2e_wait 30 "redis on the writer pod" e2e_kubectl -n "$ns" exec writer -- redis-cli -p 7000 ping
e2e_kubectl -n "$ns" exec writer -- redis-cli -p 7000 set sha "$want" >/dev/null
e2e_expect "pod-to-pod traffic" "$(e2e_kubectl -n "$ns" exec reader -- redis-cli -h "$writer_ip" -p 7000 get sha)" "$want"

e2e_kubectl -n "$ns" delete pod writer reader --wait=true --timeout=60s >/dev/null
e2e_docker exec "$node" rm -rf "$hostdir"
