# SPDX-License-Identifier: Apache-2.0
# The one entry point. Each target installs missing Debian packages first
# (scripts/deps.sh, quiet when nothing is missing) and delegates to the
# component Makefiles. SANITIZER=address,undefined builds into build-san/.

SANITIZER ?=
ROOT := $(abspath .)
BUILD := $(ROOT)/build$(if $(SANITIZER),-san)
PYTEST := /usr/bin/python3 -m pytest
export TIDEFS_BIN := $(BUILD)/bin/tidefs

.PHONY: all deps daemon mount-pod csi run bench test test-unit test-posix test-redis test-s3 test-ops test-handoff test-csi test-kube test-packaging \
        test-fast test-san test-san-suites clean

all: daemon mount-pod csi

deps:
	@./scripts/deps.sh

daemon: deps
	@$(MAKE) --no-print-directory -C daemon BUILD=$(BUILD) SANITIZER=$(SANITIZER)

mount-pod: deps
	@$(MAKE) --no-print-directory -C mount-pod BUILD=$(BUILD) SANITIZER=$(SANITIZER)

csi: daemon
	@$(MAKE) --no-print-directory -C csi BUILD=$(BUILD) SANITIZER=$(SANITIZER)

run: daemon
	@./scripts/run-demo.sh

bench: daemon
	@$(MAKE) --no-print-directory -C daemon/bench BUILD=$(BUILD)

test-unit: daemon
	@$(MAKE) --no-print-directory -C daemon BUILD=$(BUILD) SANITIZER=$(SANITIZER) test-unit

test-posix: daemon
	@$(PYTEST) -q -p no:cacheprovider daemon/tests/integration

# The POSIX suite again on the Redis engine, plus two-mount and
# redis-server crash tests, against a private redis-server.
test-redis: daemon
	@TIDEFS_BIN=$(TIDEFS_BIN) daemon/tests/redis/run-posix.sh
	@TIDEFS_BIN=$(TIDEFS_BIN) TIDEFS_TEST_META=redis daemon/tests/ops/run.sh

# S3: the store against SeaweedFS through the fault proxy, then the whole
# POSIX suite on S3 volumes and the fault-injected 1 GiB mount tests.
test-s3: daemon
	@daemon/tests/s3/run.sh
	@TIDEFS_BIN=$(TIDEFS_BIN) daemon/tests/s3/run-posix.sh

# The operator's toolkit (quota, gc, fsck, trash, config, destroy, rmr,
# info, dump/load, stats) through the real CLI and mounts.
test-ops: daemon
	@TIDEFS_BIN=$(TIDEFS_BIN) daemon/tests/ops/run.sh

# fd hand-off: the protocol and resume proofs of mount-pod/, then the
# daemon's own: kill -9 under load, smooth upgrade, unprivileged serving.
test-handoff: daemon mount-pod
	@$(MAKE) --no-print-directory -C mount-pod BUILD=$(BUILD) SANITIZER=$(SANITIZER) test
	@$(PYTEST) -q -p no:cacheprovider daemon/tests/handoff

# Mount pods: the Kubernetes client against a recording API server, the pod
# spec (restricted Pod Security), the reference store, and the pod mounter
# with real FUSE mounts and a stand-in kubelet.
test-kube: csi mount-pod
	@$(MAKE) --no-print-directory -C mount-pod BUILD=$(BUILD) SANITIZER=$(SANITIZER) test-kube

test-csi: csi
	@$(MAKE) --no-print-directory -C csi BUILD=$(BUILD) SANITIZER=$(SANITIZER) test

# Chart lint/template/API validation, manifests in sync, and the image
# (built from the last commit) running tidefs/tidefs-csi --version.
test-packaging: deps
	@hack/verify-chart.sh
	@IMAGE_SOURCE=head $(MAKE) --no-print-directory images-tidefs

# Everything but the kind cluster.
test-fast: test-unit test-posix test-redis test-s3 test-ops test-handoff test-csi test-kube test-packaging

# The suites that exercise our C code most directly, once more under
# AddressSanitizer + UndefinedBehaviorSanitizer (the Redis run repeats
# the same VFS paths and is left to the normal build to keep CI in time).
test-san-suites: test-unit test-posix test-handoff test-csi

test-san:
	@$(MAKE) --no-print-directory SANITIZER=address,undefined test-san-suites

# The kind cluster last: warm on a machine that ran it before (minutes),
# a cold first run builds Kubernetes and images (see e2e/README.md).
test: test-fast test-san
	@$(MAKE) --no-print-directory e2e
	@echo "make test: all suites passed"

clean:
	rm -rf build build-san

include e2e/e2e.mk
include packaging.mk
