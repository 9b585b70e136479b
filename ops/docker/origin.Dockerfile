# The image of everything of ours in docker-compose.yml. Target `runtime` (the default, and what
# production runs): the origin (default command), the one-shot `migrate` and the Upstash-REST
# bridge, each one bundled ES module under dist/ (ops/build-origin.mjs, exactly as
# `npm run start:origin` builds it) on the production dependencies only. Target `tools` adds the
# dev dependencies and sources for the local-only services: the edge under `wrangler dev` and the
# dev-profile WeChat sandbox.
# Build from the repo root:  docker build -f ops/docker/origin.Dockerfile -t points-origin .

# Node 22 LTS, pinned to a patch release (bump deliberately). The code also runs on Node 20, which
# CI uses until its machines move (package.json engines >=20); production runs this image or Node 22.
ARG NODE_VERSION=22.22.2

# ---- build: every dependency, then dist/ (origin, migrate, bridge) -------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No BuildKit-only syntax anywhere, so the legacy builder (docker-compose v1) builds it too.
RUN npm ci --no-audit --no-fund \
    && npm cache clean --force
COPY tsconfig.json wrangler.toml ./
COPY shared ./shared
COPY db ./db
COPY origin ./origin
COPY edge ./edge
COPY sandbox ./sandbox
COPY ops/start-edge.ts ops/upstash-bridge.ts ops/build-origin.mjs ./ops/
COPY ops/docker/entrypoint.sh ops/docker/sandbox.ts ./ops/docker/
RUN node ops/build-origin.mjs

# ---- deps: production node_modules only, from the lockfile -------------------------------------
# --omit=dev drops every build and local-simulation tool (esbuild, tsx, wrangler with workerd,
# miniflare and sharp, deno, vitest, …): what runs is dist/ on these.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force

# ---- runtime: the origin, its one-shot migration and the Upstash-REST bridge ---------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# tini as PID 1: forwards SIGTERM to our process and reaps children.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    PATH=/app/node_modules/.bin:$PATH \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# A fixed non-root uid, so bind-mounted secret files can be chowned to it on the host.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app

WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
COPY ops/docker/entrypoint.sh ./ops/docker/
RUN chmod 0755 /app/ops/docker/entrypoint.sh

USER app
EXPOSE 3000
# Liveness only (/health); readiness (/ready, MySQL + Redis) is for load balancers, because a
# restart does not fix a database outage. Node's fetch avoids installing curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--", "/app/ops/docker/entrypoint.sh"]
# Same command as `npm run start:origin`, without npm in front: signals then reach node directly
# (tini forwards them) and the origin drains in-flight requests within its 10 s.
CMD ["node", "--enable-source-maps", "dist/origin.mjs"]

# ---- tools: the runtime plus every dependency and the sources, for docker-compose's local-only
# services (the edge under `wrangler dev`, the dev-profile WeChat sandbox). Never deployed.
FROM runtime AS tools
USER root
ENV WRANGLER_SEND_METRICS=false
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/tsconfig.json /app/wrangler.toml ./
COPY --from=build /app/shared ./shared
COPY --from=build /app/db ./db
COPY --from=build /app/origin ./origin
COPY --from=build /app/edge ./edge
COPY --from=build /app/sandbox ./sandbox
COPY --from=build /app/ops ./ops
# wrangler dev writes its bundle under .wrangler/ and its logs under $HOME; the sandbox writes the
# dev WeChat settings to /run/wechat-sandbox (a named volume inherits this ownership).
RUN mkdir -p /app/.wrangler /run/wechat-sandbox \
    && chown app:app /app/.wrangler /run/wechat-sandbox
USER app
