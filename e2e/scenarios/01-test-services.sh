#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TIMEOUT: 420
# The test services the tidefs scenarios depend on run in the cluster and are
# reachable from another pod by their service names (CoreDNS + kube-proxy):
#   1. Redis: SET from a client pod, GET returns it; INFO reports the server;
#   2. S3 (SeaweedFS) with SigV4 credentials: create a bucket, PUT a 1 MiB
#      random object, GET it back with the same sha256, list the bucket;
#      a request without credentials is refused (403).
. "$(dirname "$0")/../lib.sh"

e2e_test_ns services
ns=$E2E_NS
e2e_deploy_services "$ns"

e2e_kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: client
      image: $E2E_TOOLS_IMAGE
      imagePullPolicy: Never
      command: [sleep, "3600"]
      env:
        - name: AWS_ACCESS_KEY_ID
          valueFrom: {secretKeyRef: {name: s3-config, key: accessKey}}
        - name: AWS_SECRET_ACCESS_KEY
          valueFrom: {secretKeyRef: {name: s3-config, key: secretKey}}
YAML
e2e_kubectl -n "$ns" wait --for=condition=Ready pod/client --timeout=120s >/dev/null

cexec() { e2e_kubectl -n "$ns" exec client -- "$@"; }

# Redis through the service name.
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
e2e_wait 60 "redis via its service name" cexec redis-cli -h "redis.$ns.svc.cluster.local" ping
cexec redis-cli -h redis set e2e-token "$token" >/dev/null
e2e_expect "redis GET through the service" "$(cexec redis-cli -h redis get e2e-token)" "$token"
e2e_expect "redis server role" "$(cexec redis-cli -h redis info replication | tr -d '\r' | sed -n 's/^role://p')" master

# S3 through the service name, signed with SigV4 by curl; credentials come
# from the pod's environment (the Secret), never from a command line.
s3=http://s3.$ns.svc.cluster.local:8333
s3curl() {
    cexec sh -c 'exec curl -sS --fail --aws-sigv4 aws:amz:us-east-1:s3 --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@"' s3curl "$@"
}
# The S3 port opens before the filer behind it is ready: retry the first
# request until the bucket exists.
e2e_wait 120 "S3 bucket creation" s3curl -X PUT "$s3/e2e-bucket"
cexec sh -c 'head -c 1048576 /dev/urandom >/tmp/obj'
want=$(cexec sha256sum /tmp/obj | cut -d' ' -f1)
s3curl -X PUT -T /tmp/obj "$s3/e2e-bucket/dir/obj" >/dev/null
got=$(cexec sh -c 'curl -sS --fail --aws-sigv4 aws:amz:us-east-1:s3 --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$1" | sha256sum' get "$s3/e2e-bucket/dir/obj" | cut -d' ' -f1)
e2e_expect "S3 object read back" "$got" "$want"
if ! s3curl "$s3/e2e-bucket?list-type=2" | grep -q '<Key>dir/obj</Key>'; then
    e2e_log "FAIL: dir/obj not in the bucket listing"
    exit 1
fi
e2e_log "ok: S3 listing shows the object"
e2e_expect "S3 without credentials" "$(cexec curl -s -o /dev/null -w '%{http_code}' "$s3/e2e-bucket/dir/obj")" 403
