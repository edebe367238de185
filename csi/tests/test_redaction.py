# SPDX-License-Identifier: Apache-2.0
"""Canary secrets sent through every RPC at the highest log level never
reach the plugin's log or any error message; the log level really does
print request bodies (so this test could fail)."""
import os

import grpc

from conftest import Client, Plugin, mount_cap

CANARY = "CANARY-d41d8cd98f00"
TOKENS = "csi.storage.k8s.io/serviceAccount.tokens"


def test_no_secret_reaches_logs_or_errors(pb, tmp_path, volume):
    p = Plugin(tmp_path, log_level=5).start()
    c = Client(pb, p.socket)
    url, name = volume
    good = {"metaurl": url, "name": name, "access-key": CANARY + "-ak", "secret-key": CANARY + "-sk",
            "extra": CANARY + "-x"}
    badurl = {"metaurl": "sqlite3:///nonexistent/" + CANARY + "/meta.db"}
    badname = {"metaurl": url, "name": CANARY}
    ctx = {"subPath": "/pvc-r", TOKENS: '{"aud":{"token":"%s-tok"}}' % CANARY}
    target = os.path.join(p.kubelet, "pods", "r", "mount")
    caps = [mount_cap(pb)]
    msgs = []
    for secrets in (good, badurl, badname):
        for svc, method, req in [
            ("Controller", "CreateVolume", pb.CreateVolumeRequest(
                name="pvc-r", secrets=secrets, volume_capabilities=caps, parameters={"p": "v"})),
            ("Controller", "ValidateVolumeCapabilities", pb.ValidateVolumeCapabilitiesRequest(
                volume_id="pvc-r", secrets=secrets, volume_capabilities=caps, volume_context=ctx)),
            ("Controller", "ControllerExpandVolume", pb.ControllerExpandVolumeRequest(
                volume_id="pvc-r", secrets=secrets, capacity_range=pb.CapacityRange(required_bytes=1 << 30))),
            # a sub-path that does not exist: the secrets are used, no mount is tried
            ("Node", "NodePublishVolume", pb.NodePublishVolumeRequest(
                volume_id="pvc-r", target_path=target, volume_capability=caps[0], secrets=secrets,
                volume_context={"subPath": "/no-such-dir", TOKENS: CANARY})),
            ("Node", "NodePublishVolume", pb.NodePublishVolumeRequest(
                volume_id="pvc-r", target_path=target, secrets=secrets, volume_context=ctx,
                volume_capability=pb.VolumeCapability(
                    mount=pb.VolumeCapability.MountVolume(mount_flags=["password=" + CANARY]),
                    access_mode=pb.VolumeCapability.AccessMode(mode=1)))),
            ("Controller", "DeleteVolume", pb.DeleteVolumeRequest(volume_id="pvc-r", secrets=secrets)),
        ]:
            msgs.append(c.code(svc, method, req)[1])
    c.close()
    assert p.stop() == 0
    log = p.logtext()
    assert "CreateVolume request {" in log and "***stripped***" in log  # bodies were logged
    assert "NodePublishVolume request {" in log
    assert CANARY not in log
    assert not [m for m in msgs if CANARY in m], msgs
    assert any("metaurl" in m for m in msgs)  # errors still say what is wrong
