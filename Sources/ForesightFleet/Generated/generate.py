#!/usr/bin/env python3
"""Regenerates the Swift code of Flower's Fleet API in this folder (run by hand, never by the build).

The .proto files come from the pinned flwr wheel itself: each flwr/proto/*_pb2 module carries the
compiled descriptor of its .proto file, which this script hands to the two Swift plugins exactly
as protoc would (a CodeGeneratorRequest on standard input), so the code matches the pinned
version byte for byte and needs no protoc.

    python3 -m pip install flwr==1.39.0
    # the plugins, built outside the repository from the package copies:
    #   protoc-gen-swift (apple/swift-protobuf 1.39.0)
    #   protoc-gen-grpc-swift-2 (grpc/grpc-swift-protobuf 2.4.1)
    python3 Sources/ForesightFleet/Generated/generate.py --plugins DIR
"""

import argparse
import importlib
import pathlib
import subprocess
import sys

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

PINNED_FLWR = "1.39.0"
# The Fleet service and every file its messages need.
FILES = ["fleet", "heartbeat", "node", "run", "fab", "message", "error", "recorddict", "transport"]


def json_name(field_name):
    """protoc's JSON name of a field: lowerCamelCase, underscores dropped."""
    parts = field_name.split("_")
    return parts[0] + "".join(part[:1].upper() + part[1:] for part in parts[1:])


def add_json_names(message):
    """The compiled descriptors in the wheel leave out json_name, which protoc always sets."""
    for field in message.field:
        if not field.HasField("json_name"):
            field.json_name = json_name(field.name)
    for nested in message.nested_type:
        add_json_names(nested)


def descriptors():
    """The FileDescriptorProtos of FILES, each after the files it imports."""
    protos = {}
    for name in FILES:
        module = importlib.import_module(f"flwr.proto.{name}_pb2")
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        for message in proto.message_type:
            add_json_names(message)
        protos[proto.name] = proto
    ordered, seen = [], set()

    def visit(file_name):
        if file_name in seen:
            return
        seen.add(file_name)
        for dependency in protos[file_name].dependency:
            visit(dependency)
        ordered.append(protos[file_name])

    for file_name in sorted(protos):
        visit(file_name)
    return ordered


def run_plugin(plugin, files, to_generate, parameter, out):
    request = plugin_pb2.CodeGeneratorRequest(file_to_generate=to_generate, parameter=parameter, proto_file=files)
    result = subprocess.run([plugin], input=request.SerializeToString(), capture_output=True, check=True)
    response = plugin_pb2.CodeGeneratorResponse.FromString(result.stdout)
    if response.error:
        sys.exit(f"{plugin}: {response.error}")
    for generated in response.file:
        path = out / pathlib.Path(generated.name).name
        path.write_text(generated.content)
        print("wrote", path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plugins", required=True, help="folder holding protoc-gen-swift and protoc-gen-grpc-swift-2")
    arguments = parser.parse_args()
    import flwr
    version = getattr(flwr, "__version__", None) or importlib.metadata.version("flwr")
    if version != PINNED_FLWR:
        sys.exit(f"flwr {version} is installed; the Fleet API is pinned to flwr {PINNED_FLWR}")
    out = pathlib.Path(__file__).resolve().parent
    plugins = pathlib.Path(arguments.plugins)
    files = descriptors()
    every = [proto.name for proto in files]
    run_plugin(plugins / "protoc-gen-swift", files, every, "Visibility=Internal,FileNaming=DropPath", out)
    run_plugin(plugins / "protoc-gen-grpc-swift-2", files, ["flwr/proto/fleet.proto"],
               "Visibility=Internal,Client=true,Server=false,FileNaming=DropPath", out)


if __name__ == "__main__":
    import importlib.metadata
    main()
