# SPDX-License-Identifier: Apache-2.0
# Included by mount-pod/Makefile: the mount-pod side of the CSI node plugin
# (issue 9) — the Kubernetes client (kube/), the mount pod spec builder
# (podspec/) and the reference store (refs/) — as libtidefs-mountpod.a, the
# kube_tool test program, the unit tests, and `make test-kube`, which runs
# every test of these and of csi/csi_mounter_pod.c and ends with
# "mount-pod kube: N passed, N failed".

MP_PKGS := jansson libcurl yaml-0.1
MP_SRCS := $(wildcard kube/*.c podspec/*.c refs/*.c)
MP_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(MP_SRCS))
MP_LIB := $(BUILD)/lib/libtidefs-mountpod.a
MP_UNIT_SRCS := $(wildcard kube/tests/test_*.c podspec/tests/test_*.c refs/tests/test_*.c)
MP_UNIT_BINS := $(patsubst %.c,$(BUILD)/tests/mount-pod/%,$(MP_UNIT_SRCS))
KUBE_TOOL := $(BUILD)/tests/mount-pod/kube/tests/kube_tool
MP_LDLIBS := $(shell pkg-config --libs $(MP_PKGS) fuse3) -lpthread

$(MP_OBJS) $(OBJ)/kube/tests/kube_tool.o $(patsubst %.c,$(OBJ)/%.o,$(MP_UNIT_SRCS)): \
    CFLAGS += $(shell pkg-config --cflags $(MP_PKGS)) -I../daemon/tests/unit

$(MP_LIB): $(MP_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(KUBE_TOOL): $(OBJ)/kube/tests/kube_tool.o $(MP_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(MP_LDLIBS)

$(BUILD)/tests/mount-pod/%: $(OBJ)/%.o $(MP_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(MP_LDLIBS)

.PHONY: kube test-kube
kube: $(MP_LIB) $(KUBE_TOOL) $(MP_UNIT_BINS)

test-kube: kube
	@BUILD=$(BUILD) ./kube/tests/run-all.sh $(MP_UNIT_BINS)
