#!/usr/bin/env bash
# Re-pins every hashed lock of the repository. uv records versions and hashes only (it writes
# no index URL unless asked), and existing pins are kept unless a requirement changed.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-.venv/bin/uv}"

compile() {
  "$UV" pip compile --quiet --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
    --generate-hashes --no-header "$@"
}

compile pyproject.toml --group dev -o requirements.lock
compile tools/checkov/requirements.in -o tools/checkov/requirements.lock
# The images and the Lambda package run exactly the versions the test suite ran.
for component in services/auth services/app lambda lambda/key_rotation; do
  compile "$component/requirements.in" -c requirements.lock -o "$component/requirements.lock"
done

locks=(requirements.lock tools/checkov/requirements.lock services/*/requirements.lock lambda/requirements.lock
  lambda/key_rotation/requirements.lock)
if grep -l "://" "${locks[@]}"; then
  echo "error: the locks above name a package host" >&2
  exit 1
fi
echo "locks pinned: ${locks[*]}"
