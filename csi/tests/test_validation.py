# SPDX-License-Identifier: Apache-2.0
"""Bad input over the wire: every name, id, sub-path and target path field
refuses '..', '/', NUL, a leading '-', control characters and > 128 bytes
with INVALID_ARGUMENT, names the field, and changes nothing."""
import os

import grpc
import pytest

from conftest import mount_cap
from test_server import create, meta_settings

SC = grpc.StatusCode
BAD_NAMES = ["", "..", "a..b", "../etc", "a/b", "/abs", "-rf", ".trash", "nul\x00byte", "tab\tname", "x" * 129]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_controller_names(pb, client, secrets, volume, bad):
    before = meta_settings(volume)
    calls = [
        ("CreateVolume", pb.CreateVolumeRequest(name=bad, secrets=secrets, volume_capabilities=[mount_cap(pb)])),
        ("DeleteVolume", pb.DeleteVolumeRequest(volume_id=bad, secrets=secrets)),
        ("ValidateVolumeCapabilities", pb.ValidateVolumeCapabilitiesRequest(
            volume_id=bad, secrets=secrets, volume_capabilities=[mount_cap(pb)])),
        ("ControllerExpandVolume", pb.ControllerExpandVolumeRequest(
            volume_id=bad, secrets=secrets, capacity_range=pb.CapacityRange(required_bytes=1))),
    ]
    for method, req in calls:
        code, msg = client.code("Controller", method, req)
        assert code == SC.INVALID_ARGUMENT, (method, bad, code, msg)
        assert msg and (len(bad) < 3 or bad not in msg), msg
    assert meta_settings(volume) == before


def test_128_bytes_is_accepted(pb, client, secrets):
    assert create(pb, client, secrets, "v" * 128).volume.volume_id == "v" * 128


def publish_req(pb, plugin, secrets, vol="pvc-ok", target=None, sub="/pvc-ok", cap=None):
    return pb.NodePublishVolumeRequest(
        volume_id=vol, target_path=target or os.path.join(plugin.kubelet, "pods", "p1", "mount"),
        volume_capability=cap or mount_cap(pb), secrets=secrets, volume_context={"subPath": sub})


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_node_volume_ids(pb, client, plugin, secrets, bad):
    code, _ = client.code("Node", "NodePublishVolume", publish_req(pb, plugin, secrets, vol=bad))
    assert code == SC.INVALID_ARGUMENT
    code, _ = client.code("Node", "NodeUnpublishVolume", pb.NodeUnpublishVolumeRequest(
        volume_id=bad, target_path=os.path.join(plugin.kubelet, "x")))
    assert code == SC.INVALID_ARGUMENT
    code, _ = client.code("Node", "NodeGetVolumeStats", pb.NodeGetVolumeStatsRequest(
        volume_id=bad, volume_path=os.path.join(plugin.kubelet, "x")))
    assert code == SC.INVALID_ARGUMENT


@pytest.mark.parametrize("sub", ["pvc", "/a/../b", "/..", "//a", "/-o", "/a/.x", "/" + "s" * 128, "/a\x00b"])
def test_node_subpaths(pb, client, plugin, secrets, sub):
    code, msg = client.code("Node", "NodePublishVolume", publish_req(pb, plugin, secrets, sub=sub))
    assert code == SC.INVALID_ARGUMENT and ("subPath" in msg or "NUL" in msg), msg


@pytest.mark.parametrize("target", ["relative/t", "/etc/t", "{k}", "{k}/../../t", "{k}/pods/./t", "{k}X/t",
                                    "{k}/pods//t", "{k}/pods/t\x00x", "{k}/pods/t\n"])
def test_node_targets_outside_kubelet(pb, client, plugin, secrets, target):
    target = target.format(k=plugin.kubelet)
    code, _ = client.code("Node", "NodePublishVolume", publish_req(pb, plugin, secrets, target=target))
    assert code == SC.INVALID_ARGUMENT
    code, _ = client.code("Node", "NodeUnpublishVolume", pb.NodeUnpublishVolumeRequest(
        volume_id="pvc-ok", target_path=target))
    assert code == SC.INVALID_ARGUMENT


def test_symlink_in_target_path_is_refused(pb, client, plugin, secrets, tmp_path):
    create(pb, client, secrets, "pvc-ok")
    outside = tmp_path / "outside"
    outside.mkdir()
    pods = os.path.join(plugin.kubelet, "pods")
    os.makedirs(pods, exist_ok=True)
    os.symlink(str(outside), os.path.join(pods, "evil"))
    code, msg = client.code("Node", "NodePublishVolume",
                            publish_req(pb, plugin, secrets, target=os.path.join(pods, "evil", "mount")))
    assert code == SC.INVALID_ARGUMENT and "symlink" in msg, msg
    assert os.listdir(str(outside)) == []
    # a symlink as the target itself
    os.symlink(str(outside), os.path.join(pods, "evil2"))
    code, msg = client.code("Node", "NodePublishVolume",
                            publish_req(pb, plugin, secrets, target=os.path.join(pods, "evil2")))
    assert code == SC.INVALID_ARGUMENT, msg


def test_block_and_mount_flags_are_refused(pb, client, plugin, secrets):
    block = pb.VolumeCapability(block=pb.VolumeCapability.BlockVolume(),
                                access_mode=pb.VolumeCapability.AccessMode(mode=1))
    code, msg = client.code("Node", "NodePublishVolume", publish_req(pb, plugin, secrets, cap=block))
    assert code == SC.INVALID_ARGUMENT and "block" in msg
    flags = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume(mount_flags=["exec,suid"]),
                                access_mode=pb.VolumeCapability.AccessMode(mode=1))
    code, msg = client.code("Node", "NodePublishVolume", publish_req(pb, plugin, secrets, cap=flags))
    assert code == SC.INVALID_ARGUMENT and "exec" not in msg


def test_stats_of_unknown_paths_is_not_found(pb, client, plugin):
    for path in ["some/path", "/etc", os.path.join(plugin.kubelet, "pods", "nothing")]:
        code, _ = client.code("Node", "NodeGetVolumeStats", pb.NodeGetVolumeStatsRequest(
            volume_id="pvc-x", volume_path=path))
        assert code == SC.NOT_FOUND, path
