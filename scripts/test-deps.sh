#!/usr/bin/env bash
# Installs what the test suite needs besides .venv, each step skipped when already done:
#   - the cdktf CLI (pinned in tools/cdktf-cli), run with the Node.js 22 of .venv
#   - checkov in its own virtualenv (its pins clash with the project's), from a hashed lock
#   - a PostgreSQL server (Debian's package) for the auth service tests
#   - Java 17 and Maven for the Cassandra node the tests start from Maven Central jars
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}
apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "missing $* and no apt-get here: install it yourself" >&2; return 1
  fi
  if [[ $apt_updated -eq 0 ]]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

node_bin="$(.venv/bin/python -c 'from toolchain.node import node_binary; print(node_binary())')"
node_dir="$(dirname "$node_bin")"
if [[ ! -x tools/cdktf-cli/node_modules/.bin/cdktf ]]; then
  echo "installing the cdktf CLI (tools/cdktf-cli)"
  (cd tools/cdktf-cli && PATH="$node_dir:$PATH" "$node_bin" "$node_dir/../lib/node_modules/npm/bin/npm-cli.js" \
    ci --no-progress --loglevel=error >/dev/null)
fi

stamp=.tools/checkov/.lock-sha256
want="$(sha256sum tools/checkov/requirements.lock | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "installing checkov (.tools/checkov)"
  .venv/bin/python -m venv --clear .tools/checkov
  .tools/checkov/bin/python -m pip install --quiet --disable-pip-version-check \
    --require-hashes --no-deps -r tools/checkov/requirements.lock
  echo "$want" > "$stamp"
fi

if ! compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null && ! command -v pg_ctl >/dev/null \
   && [[ -z "${POSTGRES_BIN_DIR:-}" ]]; then
  echo "installing PostgreSQL (Debian package postgresql)"
  apt_install postgresql
fi

if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  echo "installing Java 17 and Maven"
  apt_install openjdk-17-jre-headless maven
fi
echo "test dependencies ready"
