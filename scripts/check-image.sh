#!/usr/bin/env bash
# Checks the Dockerfile without a Docker engine: performs its build and run steps in a clean
# temporary folder, as the image would, with the node on PATH (put Node 24 first on PATH to check
# the image's runtime: PATH=<dir of node 24>:$PATH bash scripts/check-image.sh).
#   build stage:   npm ci; npm run build; test -f dist/src/cli.js
#   deps stage:    npm ci --omit=dev (production dependencies only)
#   runtime stage: package.json + production node_modules + dist + openapi + data, NODE_ENV=production,
#                  `node dist/src/cli.js migrate`, then `serve`; polls /readyz; SIGTERM; exit code 0.
# Uses a fresh database (CHECK_IMAGE_DATABASE, default custos_image_check) on DATABASE_URL's server
# and REDIS_URL; migrates with that (owner) URL and serves as the runtime role `custos migrate` creates,
# as production must; removes the folder, the database and its two roles afterwards.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
server_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/custos}"
database="${CHECK_IMAGE_DATABASE:-custos_image_check}"
work="$(mktemp -d -t custos-image-XXXXXX)"
pid=""
psql_admin() { psql "${server_url%/*}/postgres" -v ON_ERROR_STOP=1 -qc "$1"; }
cleanup() {
  cd /
  [ -n "${pid}" ] && kill "${pid}" 2>/dev/null || true
  rm -rf "${work}"
  psql_admin "DROP DATABASE IF EXISTS \"${database}\" WITH (FORCE)" || true
  psql_admin "DROP ROLE IF EXISTS \"${database}_runtime\", \"${database}_audit_owner\"" || true
}
trap cleanup EXIT
step() { printf '\n==== %s ====\n' "$*"; }

step "node $(node --version), npm $(npm --version), folder ${work}"
# The build context: tracked and new (not ignored) files, as `COPY . .` with .dockerignore sees them.
mkdir -p "${work}/build" "${work}/deps" "${work}/runtime"
(cd "${repo}" && git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "${work}/build/" 2>/dev/null || true)

step "build stage: npm ci, npm run build"
(cd "${work}/build" && npm ci --no-audit --no-fund </dev/null && npm run build </dev/null && mkdir -p data && test -f dist/src/cli.js)

step "deps stage: npm ci --omit=dev"
cp "${work}/build/package.json" "${work}/build/package-lock.json" "${work}/deps/"
(cd "${work}/deps" && npm ci --omit=dev --no-audit --no-fund </dev/null)

step "runtime stage"
cd "${work}/runtime"
cp "${work}/build/package.json" "${work}/build/package-lock.json" .
mv "${work}/deps/node_modules" ./node_modules
cp -r "${work}/build/dist" "${work}/build/openapi" "${work}/build/data" .
mkdir -p var/artifacts
port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
psql_admin "DROP DATABASE IF EXISTS \"${database}\" WITH (FORCE)"
psql_admin "CREATE DATABASE \"${database}\""
set -a
# shellcheck disable=SC1090
. <(NODE_ENV=development node dist/src/cli.js keys generate)
NODE_ENV=production
# As in production: migrate with the owner connection, serve as the runtime role it creates (serve
# refuses a superuser in production). The runtime role's password is the one in DATABASE_URL.
CUSTOS_MIGRATION_DATABASE_URL="${server_url%/*}/${database}"
DATABASE_URL="$(node -e 'const [url, user, db] = process.argv.slice(1); const u = new URL(url); u.username = user; u.password = require("crypto").randomBytes(18).toString("hex"); u.pathname = "/" + db; console.log(u.toString())' "${server_url}" "${database}_runtime" "${database}")"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
CUSTOS_QUEUE_PREFIX="${database}"
HOST=127.0.0.1
PORT="${port}"
set +a
node dist/src/cli.js migrate
node dist/src/cli.js serve > "${work}/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  if body="$(curl -fsS "http://127.0.0.1:${port}/readyz" 2>/dev/null)"; then
    echo "readyz: ${body}"
    break
  fi
  if ! kill -0 "${pid}" 2>/dev/null; then cat "${work}/serve.log"; echo "serve exited before it was ready" >&2; exit 1; fi
  sleep 0.5
done
[ -n "${body:-}" ] || { cat "${work}/serve.log"; echo "readyz never answered" >&2; exit 1; }
kill -TERM "${pid}"
wait "${pid}" && status=0 || status=$?
pid=""
[ "${status}" -eq 0 ] || { cat "${work}/serve.log"; echo "serve exited with ${status} on SIGTERM" >&2; exit 1; }
step "ok: built, installed production dependencies only, migrated, served /readyz, stopped cleanly"
