#!/usr/bin/env bash
# Build the release binary and run the generated-code benchmark (benches/numpy_hessian.py;
# its first run creates benches/.venv with numpy, jax[cpu] and torch).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 benches/numpy_hessian.py --bin "${CARGO_TARGET_DIR:-target}/release/matdiff" "$@"
