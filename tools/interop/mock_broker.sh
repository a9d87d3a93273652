#!/bin/sh
# Runs mock_broker.py with the repository's .venv (see mock_broker.py: a development aid only).
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../../.venv/bin/python" "$here/mock_broker.py" "$@"
