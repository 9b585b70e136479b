/**
 * Runs the edge locally in the foreground: `tsx ops/start-edge.ts --runtime=workerd|deno`.
 * Settings come only from the environment (API.md §8). When UPSTASH_REDIS_REST_URL is unset it
 * also starts the Upstash-REST bridge to REDIS_URL. SIGTERM/SIGINT stop the runtime and the bridge.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, type EdgeConfig, parseConfig } from '../edge/config.ts'
import { buildConsole } from './build-console.ts'
import { type Bridge, startBridge } from './upstash-bridge.ts'

type Runtime = 'workerd' | 'deno'

function runtimeFromArgs(argv: string[]): Runtime {
  const value = argv.find((a) => a.startsWith('--runtime='))?.slice('--runtime='.length) ?? 'workerd'
  if (value !== 'workerd' && value !== 'deno') {
    console.error(`start-edge: --runtime must be workerd or deno, not ${value}`)
    process.exit(2)
  }
  return value
}

/** The edge's variables as a dotenv file: secrets go to wrangler through a 0600 file, not argv. */
function writeEnvFile(dir: string, config: EdgeConfig): string {
  const path = join(dir, 'edge.env')
  const lines = Object.entries(config)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${JSON.stringify(String(value))}`)
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 })
  return path
}

function spawnRuntime(
  runtime: Runtime,
  config: EdgeConfig,
  env: NodeJS.ProcessEnv,
  dir: string,
): ChildProcess {
  if (runtime === 'deno')
    return spawn(
      'node_modules/.bin/deno',
      ['run', '--allow-net', '--allow-env', '--allow-read', 'edge/deno.ts'],
      {
        env: { ...env, DENO_NO_UPDATE_CHECK: '1' },
        stdio: 'inherit',
      },
    )
  // Started directly (not through npx) so a signal to this PID reaches wrangler and its workerd.
  return spawn(
    'node_modules/.bin/wrangler',
    [
      'dev',
      '--ip',
      config.EDGE_HOST,
      '--port',
      String(config.EDGE_PORT),
      '--persist-to',
      join(dir, 'state'),
      '--env-file',
      writeEnvFile(dir, config),
      '--show-interactive-dev-session=false',
    ],
    {
      env: { ...env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
      stdio: 'inherit',
    },
  )
}

async function main() {
  const runtime = runtimeFromArgs(process.argv.slice(2))
  const env = { ...process.env }
  let bridge: Bridge | undefined
  if (!env.UPSTASH_REDIS_REST_URL) {
    const token = crypto.randomUUID()
    const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379'
    bridge = await startBridge({ port: Number(env.BRIDGE_PORT ?? 0), token, redisUrl })
    env.UPSTASH_REDIS_REST_URL = bridge.url
    env.UPSTASH_REDIS_REST_TOKEN = token
    console.log(`start-edge: Upstash bridge ${bridge.url} → ${redisUrl}`)
  }

  let config: EdgeConfig
  try {
    config = parseConfig(env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    console.error(err.message)
    await bridge?.close()
    process.exit(1)
  }

  // Both runtimes serve the console from dist/assets/ (wrangler.toml [assets]).
  await buildConsole()
  const dir = mkdtempSync(join(tmpdir(), 'start-edge-'))
  const child = spawnRuntime(runtime, config, env, dir)
  let stopping = false
  const stop = (signal: NodeJS.Signals) => {
    stopping = true
    child.kill(signal)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  child.once('exit', async (code, signal) => {
    await bridge?.close()
    rmSync(dir, { recursive: true, force: true })
    process.exit(stopping ? 0 : (code ?? (signal ? 1 : 0)))
  })
}

await main()
