# SPDX-License-Identifier: Apache-2.0
# Make fragment for the container image, the Helm chart and the plain
# manifests; the top-level Makefile includes it (`include packaging.mk`).
#
#   make images           the tidefs image (docker/Dockerfile) into the engine
#                         DOCKER_HOST names, checked (--version of both
#                         programs, non-root user); then the CSI sidecar
#                         images the e2e suite can build, by its own scripts,
#                         into its engine
#   make helm-lint        helm lint --strict of charts/tidefs (defaults, every
#                         option on, every option off)
#   make verify-manifests helm-lint + manifests/ in sync with the chart + a
#                         throwaway API server accepts the objects (schemas,
#                         Pod Security of the mount pod namespace, RBAC)
#   make manifests        rewrite manifests/ from the chart
#
# TIDEFS_IMAGE=repo:tag names the image; IMAGE_SOURCE=head builds the last
# commit instead of the working tree. To build the image straight into the
# e2e cluster's engine:
#   make images-tidefs DOCKER_HOST=unix:///var/cache/tidefs-e2e/v1/engine/run/docker.sock

PKG_ROOT := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
TIDEFS_IMAGE ?= tidefs/tidefs:$(shell cat $(PKG_ROOT)/VERSION)
IMAGE_SOURCE ?= worktree

.PHONY: images images-tidefs images-sidecars helm-lint verify-manifests manifests

images: images-tidefs images-sidecars

images-tidefs:
	@SOURCE=$(IMAGE_SOURCE) $(PKG_ROOT)/docker/build-image.sh $(TIDEFS_IMAGE)

# Only external-provisioner is served by this machine's Go module proxy
# (e2e/versions.sh); the chart's other sidecar images come from their
# registry on clusters that can pull.
images-sidecars:
	@$(PKG_ROOT)/e2e/build/tools.sh csi_provisioner
	@$(PKG_ROOT)/e2e/engine.sh up
	@$(PKG_ROOT)/e2e/build/images.sh csi_sidecars

helm-lint:
	@$(PKG_ROOT)/hack/verify-chart.sh --lint-only

verify-manifests:
	@$(PKG_ROOT)/hack/verify-chart.sh

manifests:
	@$(PKG_ROOT)/hack/verify-chart.sh --update --no-api
