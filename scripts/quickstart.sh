#!/usr/bin/env bash
# One command to install and run Custos on a laptop: ./scripts/quickstart.sh
# Installs npm dependencies when needed, then `npm start`, which uses PostgreSQL and Redis from
# DATABASE_URL / REDIS_URL when they answer, or starts private ones (see scripts/services.mjs).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "quickstart: Node.js 20 or newer is required and \`node\` is not on PATH." >&2
  echo "quickstart: install it from https://nodejs.org/ (or: nvm install 20)." >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "${node_major}" -lt 20 ]; then
  echo "quickstart: Node.js 20 or newer is required; found $(node --version) at $(command -v node)." >&2
  echo "quickstart: install it from https://nodejs.org/ (or: nvm install 20 && nvm use 20)." >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "quickstart: npm is not on PATH; it ships with Node.js, reinstall Node.js 20+." >&2
  exit 1
fi

# npm ci when dependencies are missing or package-lock.json changed since the last install
# (npm writes node_modules/.package-lock.json on every install).
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "quickstart: installing dependencies (npm ci)" >&2
  npm ci
fi

echo "quickstart: starting Custos (npm start)" >&2
exec npm start
