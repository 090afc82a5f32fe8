#!/bin/sh
# Regenerates smartpos_pb2.py from smartpos.proto (a copy of the vendor's spec; keep them equal).
#
# grpcio-tools is a generation tool only, never a dependency of the gateway. Its bundled protoc
# decides the protobuf runtime the generated module needs: grpcio-tools 1.85.1 bundles protoc 35.1,
# whose Python code checks for a protobuf runtime >= 7.35.1 and < 8, the range setup.py pins.
# Change the two together.
#
#   python3 -m venv /tmp/protoc && /tmp/protoc/bin/pip install grpcio-tools==1.85.1
#   PYTHON=/tmp/protoc/bin/python sh terminal_gateway/protocols/smartpos/regenerate.sh
#
# The generated file gets "# ruff: noqa" on top: it is protoc's, not ours to lint.
set -eu
cd "$(dirname "$0")"
"${PYTHON:-python3}" -m grpc_tools.protoc --version
"${PYTHON:-python3}" -m grpc_tools.protoc -I. --python_out=. smartpos.proto
{ echo "# ruff: noqa"; cat smartpos_pb2.py; } > smartpos_pb2.py.new
mv smartpos_pb2.py.new smartpos_pb2.py
grep "Protobuf Python Version" smartpos_pb2.py
