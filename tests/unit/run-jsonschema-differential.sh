#!/bin/sh
# lib/jsonschema against python3-jsonschema on random schemas and
# instances (tests/unit/jsonschema_differential.py).
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/jsonschema_differential.py" "${EXECD_BUILDDIR:-.}/tests/unit/jsonschema_oracle"
