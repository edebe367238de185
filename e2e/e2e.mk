# SPDX-License-Identifier: Apache-2.0
# Make fragment for the kind-cluster end-to-end tests; the top-level Makefile
# includes it (`include e2e/e2e.mk`). Everything built is cached outside the
# repository in /var/cache/tidefs-e2e/<version>/ (E2E_CACHE overrides).
#
#   make e2e-images-base  build or reuse the binaries and images the cluster
#                         needs (cold: see e2e/README.md; warm: seconds)
#   make e2e-cluster      create the kind cluster (idempotent) and keep it
#   make e2e-teardown     delete the cluster and stop the e2e docker engine
#   make e2e              cluster up, every e2e/scenarios/*.sh, logs on
#                         failure, cluster down (E2E_KEEP=1 keeps it)

E2E_SCRIPTS := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: e2e e2e-cluster e2e-teardown e2e-images-base e2e-logs

e2e-images-base: deps
	@$(E2E_SCRIPTS)/build/all.sh

e2e-cluster: deps
	@$(E2E_SCRIPTS)/cluster-up.sh

e2e-teardown:
	@$(E2E_SCRIPTS)/cluster-down.sh

e2e-logs:
	@$(E2E_SCRIPTS)/collect-logs.sh manual

e2e: deps
	@$(E2E_SCRIPTS)/run.sh
