"""The shared tiny model exported as a league bundle, and bundles spoiled one way each."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from tests.helpers import copy_trained_model, racerl_home

_CACHE: dict[str, bytes] = {}


def tiny_bundle(tiny_model_home: Path, workdir: Path) -> bytes:
    """The bytes of `racerl export tiny` (ONNX only), made once per session."""
    if "tiny" not in _CACHE:
        from racerl.edge.export import export_model

        home = workdir / "export_home"
        copy_trained_model(tiny_model_home / "models" / "tiny", home / "models" / "tiny")
        with racerl_home(home):
            result = export_model("tiny", out=workdir / "export", openvino=False)
        _CACHE["tiny"] = result.bundle.read_bytes()
    return _CACHE["tiny"]


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def pack(files: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> bytes:
    """A .tar.gz of ``files`` plus raw ``extra`` members (links, odd names)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    return out.getvalue()


def with_member(data: bytes, name: str, content: bytes = b"x") -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    return pack(members(data), [info])


def with_symlink(data: bytes, name: str = "model_metadata.json") -> bytes:
    files = members(data)
    del files[name]
    link = tarfile.TarInfo(name)
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return pack(files, [link])


def with_json(data: bytes, name: str, change) -> bytes:
    files = members(data)
    value = json.loads(files[name])
    change(value)
    files[name] = json.dumps(value).encode()
    return pack(files)


def with_op(data: bytes, old: str, new: str) -> bytes:
    """The bundle with every ``old`` operator of its graph replaced by ``new``."""
    import onnx

    files = members(data)
    model = onnx.load_model_from_string(files["model.onnx"])
    for node in model.graph.node:
        if node.op_type == old:
            node.op_type = new
    files["model.onnx"] = model.SerializeToString()
    return pack(files)
