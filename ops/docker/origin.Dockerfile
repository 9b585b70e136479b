# One image for everything of ours in docker-compose.yml: the origin (default command), the
# one-shot `migrate`, the edge under `wrangler dev`, the Upstash-REST bridge, and the dev-profile
# WeChat sandbox.
# Build from the repo root:  docker build -f ops/docker/origin.Dockerfile -t points-origin .
#
# The origin runs as one bundled ES module (dist/origin.mjs, built by ops/build-origin.mjs with
# esbuild, exactly as `npm run start:origin` builds it); the edge, migrate and sandbox services run
# their TypeScript with tsx (a runtime dependency).

# Node 22 LTS, pinned to a patch release (bump deliberately). The code also runs on Node 20, which
# CI uses until its machines move (package.json engines >=20); production runs this image or Node 22.
ARG NODE_VERSION=22.22.2

# ---- deps: production node_modules only, from the lockfile -------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev drops vitest, biome, deno, drizzle-kit…; tsx, wrangler (+ workerd) are dependencies.
# No BuildKit-only syntax anywhere, so the legacy builder (docker-compose v1) builds it too.
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force

# ---- runtime ------------------------------------------------------------------------------------
# bookworm-slim rather than alpine: workerd (the edge runtime in wrangler) is linked against glibc.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# tini as PID 1: forwards SIGTERM to our process and reaps wrangler's/workerd's children.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    PATH=/app/node_modules/.bin:$PATH \
    WRANGLER_SEND_METRICS=false \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# A fixed non-root uid, so bind-mounted secret files can be chowned to it on the host.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app

WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# Only what runs; listed explicitly so a context without the .dockerignore beside this file
# (legacy builder) still cannot copy a host node_modules or .env into the image.
COPY package.json package-lock.json tsconfig.json wrangler.toml ./
COPY shared ./shared
COPY db ./db
COPY origin ./origin
COPY edge ./edge
COPY sandbox ./sandbox
COPY ops/start-edge.ts ops/upstash-bridge.ts ops/build-origin.mjs ./ops/
COPY ops/docker/entrypoint.sh ops/docker/sandbox.ts ./ops/docker/

RUN node ops/build-origin.mjs

# wrangler dev writes its bundle under .wrangler/ and its logs under $HOME; the sandbox writes the
# dev WeChat settings to /run/wechat-sandbox (a named volume inherits this ownership).
RUN mkdir -p /app/.wrangler /run/wechat-sandbox \
    && chown app:app /app/.wrangler /run/wechat-sandbox \
    && chmod 0755 /app/ops/docker/entrypoint.sh

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
