"""Uploaded bundles are checked before anything in them runs: size, layout, metadata,
ONNX operators and the input the race feeds."""

from __future__ import annotations

import pytest

from racerl.edge.runtime import BundleError
from racerl.league import bundles as checks
from racerl.league.bundles import check_upload
from tests.league.bundles import (
    tiny_bundle,
    with_json,
    with_member,
    with_op,
    with_symlink,
)


@pytest.fixture(scope="module")
def good(tiny_model_home, tmp_path_factory) -> bytes:
    return tiny_bundle(tiny_model_home, tmp_path_factory.mktemp("bundle"))


def refused(data: bytes, *words: str) -> str:
    with pytest.raises(BundleError) as caught:
        check_upload(data, "up.tar.gz")
    text = str(caught.value)
    assert text.startswith("up.tar.gz"), text
    for word in words:
        assert word in text, text
    return text


def test_the_exported_bundle_passes(good):
    bundle = check_upload(good, "tiny.tar.gz")
    assert bundle.contract.observation == "state"
    assert bundle.contract.input_shape == (17,)


def test_size_is_capped_before_reading(good, monkeypatch):
    monkeypatch.setattr(checks, "MAX_BUNDLE_BYTES", len(good) - 1)
    refused(good, "over the", "limit")


@pytest.mark.parametrize("name", ["../model.onnx", "/etc/cron.d/x", "sub/model.onnx"])
def test_paths_outside_a_flat_bundle_are_refused(good, name):
    refused(with_member(good, name), repr(name), "plain file name")


def test_links_and_extra_members_are_refused(good):
    refused(with_symlink(good), "'model_metadata.json'", "not a regular file")
    refused(with_member(good, "run_me.sh"), "unexpected member 'run_me.sh'")
    refused(with_member(good, "README.md"), "appears twice")


def test_not_a_tar_and_missing_files_are_refused(good):
    refused(b"not a tarball", "not a readable .tar.gz")
    from tests.league.bundles import members, pack

    files = members(good)
    del files["model.onnx"]
    refused(pack(files), "model.onnx missing")


def test_bad_metadata_is_refused(good):
    refused(with_json(good, "model_metadata.json",
                      lambda m: m.update(action_space_type="warp")), "model_metadata.json")
    files_text = refused(with_json(good, "model_metadata.json",
                                   lambda m: m.update(action_space=[])), "action")
    assert "model_metadata.json" in files_text


def test_operators_off_the_allowlist_are_refused(good):
    # Sin has Tanh's signature, so the graph stays valid ONNX: only the allowlist refuses it.
    refused(with_op(good, "Tanh", "Sin"), "operators Sin", "not accepted")


def test_an_invalid_graph_is_refused(good):
    refused(with_op(good, "Tanh", "NoSuchOp"), "model.onnx", "not a valid ONNX model")


def test_the_input_must_be_what_the_race_feeds(good):
    # The contract claims a camera, the graph takes the 17 state values.
    refused(with_json(good, "racerl_export.json",
                      lambda c: c.update(observation="camera")),
            "the race feeds the camera sensor as [120, 160, 1] uint8")
