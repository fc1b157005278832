"""A protoc plugin that emits ``*_pb2_grpc.py`` gRPC stubs by delegating to grpcio-tools.

buf has no built-in grpc_python generator and we use no remote plugins, so this script reads the
``CodeGeneratorRequest`` from stdin, writes its descriptors to a temporary descriptor set, runs
grpcio-tools' bundled protoc with its grpc_python generator over it, and returns the files.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    with tempfile.TemporaryDirectory() as tmp:
        descriptor_set = Path(tmp) / "input.binpb"
        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        fds = descriptor_pb2.FileDescriptorSet(file=list(request.proto_file))
        descriptor_set.write_bytes(fds.SerializeToString())
        argv = [
            "grpc_tools.protoc",
            f"--descriptor_set_in={descriptor_set}",
            f"--grpc_python_out={out_dir}",
            *request.file_to_generate,
        ]
        if protoc.main(argv) != 0:
            response.error = "grpc_tools.protoc failed to generate gRPC stubs"
        for path in sorted(out_dir.rglob("*.py")):
            response.file.add(name=str(path.relative_to(out_dir)), content=path.read_text(encoding="utf-8"))
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
