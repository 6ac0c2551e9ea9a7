# syntax=docker/dockerfile:1
# Custos image: one image, several roles (the command picks one): serve (default), worker,
# scheduler, migrate, and the operator commands, e.g.
#   docker run --env-file .env custos migrate
#   docker run --env-file .env -p 8080:8080 custos serve
# Node 24 is the current LTS (Node 20 reached its end of life in April 2026).
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: all dependencies, compile TypeScript to dist/ (dist/src/cli.js, dist/migrations) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# data/ is optional at build time; the runtime stage copies it unconditionally.
RUN npm run build && mkdir -p data && test -f dist/src/cli.js

# ---- production dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
# pg_dump/pg_restore (backups) must be at least as new as the server they dump, and the
# restore target should not be older than them: match the PostgreSQL major of the server
# (docker-compose.yml runs postgres:16). Debian bookworm ships only 15, so use the PGDG
# repository, set up with the key that Debian's postgresql-common package carries.
ARG PG_CLIENT_MAJOR=16
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates postgresql-common; \
    /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}"; \
    rm -rf /var/lib/apt/lists/*; \
    pg_dump --version; pg_restore --version

ENV NODE_ENV=production
WORKDIR /app
# package.json carries "type": "module", which the compiled ESM needs.
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The OpenAPI contract is read at run time (request validation, /docs), from /app/openapi.
COPY --from=build /app/openapi ./openapi
COPY --from=build /app/data ./data
# Artifacts (exports, backups, uploads) live under /app/var (CUSTOS_ARTIFACT_DIR defaults to
# var/artifacts); mount a volume there. Created here so a fresh volume is owned by `node`.
RUN mkdir -p /app/var/artifacts && chown -R node:node /app/var

USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
