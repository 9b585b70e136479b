/**
 * PM2 for the origin on a VM: `npx pm2 start ops/pm2/ecosystem.config.cjs`, then
 * `npx pm2 reload ops/pm2/ecosystem.config.cjs --update-env` for a zero-downtime rolling restart
 * (docs/OPERATIONS.md, Deploy; ops/deploy.sh does both). CommonJS because PM2 `require`s it and the
 * package is "type": "module".
 *
 * Cluster mode: the workers share PORT, and PM2 reloads them one at a time (a new worker listens
 * before the old one is told to drain). Any worker's /metrics carries every worker's series,
 * labelled `worker` (origin/http/worker-metrics.ts), so one scrape target per host is exact.
 * The interpreter is plain node running the bundled origin: build it first with
 * `npm run build:origin` (dist/origin.mjs, the same bundle `npm run start:origin` runs).
 *
 * POINTS_APP_DIR is the directory PM2 starts workers in (default: this checkout). ops/deploy.sh
 * sets it to the `current` symlink, so a reload starts the release the symlink points at.
 *
 * Settings: the origin reads only its environment (API.md §8). Point POINTS_ENV_FILE at a dotenv
 * file (default /etc/points-app/origin.env, mode 0640, owner root, group of the PM2 user). Node
 * reads it in each worker through --env-file, so the values never enter PM2's dump file
 * (`pm2 save`); put secrets there as NAME_FILE paths where the origin supports them.
 */
const { existsSync } = require('node:fs')
const path = require('node:path')

const root = process.env.POINTS_APP_DIR || path.resolve(__dirname, '../..')
const envFile = process.env.POINTS_ENV_FILE || '/etc/points-app/origin.env'
const logDir = process.env.POINTS_LOG_DIR || '/var/log/points-app'

// --env-file fails start-up when the file is missing; without one the environment PM2 was started
// with applies (and the origin names the first missing variable).
const nodeArgs = [...(existsSync(envFile) ? [`--env-file=${envFile}`] : []), '--enable-source-maps']

module.exports = {
  apps: [
    {
      // ops/deploy.sh starts a new release once as `points-origin-canary` on a spare port first.
      name: process.env.POINTS_APP_NAME || 'points-origin',
      cwd: root,
      script: 'dist/origin.mjs',
      interpreter: 'node',
      node_args: nodeArgs,
      exec_mode: 'cluster',
      // Two workers by default, so one serves while the other reloads. More only where the cores
      // are the origin's: where MySQL shares the host, use the cores left over (docs/OPERATIONS.md,
      // measured slower with 2 workers on 2 cores). Each holds its own MySQL pool
      // (DATABASE_POOL_SIZE, 16): size the server's max_connections for workers × pool × hosts.
      instances: Number(process.env.POINTS_WORKERS || 2),
      env: {
        NODE_ENV: 'production',
      },
      // On SIGINT (PM2's stop signal) the origin turns /ready 503, keeps serving for
      // SHUTDOWN_DRAIN_MS, then finishes what it accepted and exits within 10 s; allow a little
      // more before PM2 sends SIGKILL.
      kill_timeout: 12000,
      // A reloaded worker counts as up once it listens; the old one is stopped only then.
      listen_timeout: 10000,
      // Restart a worker that leaks past this (a healthy one stays far below).
      max_memory_restart: '512M',
      // Crash loops back off instead of hammering MySQL: 100 ms, 150 ms, … up to 15 s.
      exp_backoff_restart_delay: 100,
      max_restarts: 50,
      min_uptime: '10s',
      autorestart: true,
      // The origin logs one JSON object per line; PM2 keeps them per app, merged across workers.
      // Rotated by ops/logrotate/points-app (copytruncate).
      out_file: path.join(logDir, 'origin.out.log'),
      error_file: path.join(logDir, 'origin.err.log'),
      merge_logs: true,
    },
  ],
}
