/** Real PM2 (the project's dependency) with its own PM2_HOME, so a test never touches a user's daemon. */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const PM2 = join(ROOT, 'node_modules/.bin/pm2')
const run = promisify(execFile)

export interface Pm2Process {
  name: string
  pid: number
  pm_id: number
  pm2_env: { status: string; exec_mode: string; restart_time: number; NODE_APP_INSTANCE?: number }
}

export interface Pm2 {
  home: string
  pm2(args: string[], env?: Record<string, string>): Promise<string>
  list(): Promise<Pm2Process[]>
  /** Kills the daemon and its apps, and removes PM2_HOME. */
  kill(): Promise<void>
}

export function pm2Sandbox(): Pm2 {
  const home = mkdtempSync(join(tmpdir(), 'pm2-home-'))
  const pm2 = async (args: string[], env: Record<string, string> = {}) => {
    const { stdout } = await run(PM2, args, {
      cwd: ROOT,
      env: { ...process.env, ...env, PM2_HOME: home },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    })
    return stdout
  }
  return {
    home,
    pm2,
    async list() {
      // A daemon that is not running yet is started first, with a banner before the JSON.
      const out = await pm2(['jlist'])
      return JSON.parse(out.slice(out.indexOf('['))) as Pm2Process[]
    },
    async kill() {
      await pm2(['kill']).catch(() => undefined)
      rmSync(home, { recursive: true, force: true })
    },
  }
}

/**
 * The environment the PM2 ecosystem file's production origin needs on top of a test stack's:
 * its own port and log folder, a one-second drain, no env file, and the METRICS_TOKEN that
 * NODE_ENV=production refuses to start without.
 */
export function productionOriginEnv(
  stackEnv: Record<string, string>,
  opts: { port: number; logDir: string; metricsToken: string },
): Record<string, string> {
  return {
    ...stackEnv,
    PUBLIC_BASE_URL: `http://127.0.0.1:${opts.port}`,
    PORT: String(opts.port),
    HOST: '127.0.0.1',
    SHUTDOWN_DRAIN_MS: '1000',
    METRICS_TOKEN: opts.metricsToken,
    POINTS_LOG_DIR: opts.logDir,
    POINTS_ENV_FILE: join(opts.logDir, 'no-env-file'),
  }
}
