/**
 * The whole stack for one bench run, each part in its own process: a fresh database (migrated),
 * the WeChat sandbox, the origin (timed from spawn to /ready), the Upstash-REST bridge on its own
 * Redis db index, and the edge twice — on Deno and in workerd — both fronting that origin.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import { migrateDatabase } from '../../db/migrate.ts'
import { productionTree } from '../../ops/production-install.ts'
import type { SandboxConfig, StartedSandbox } from '../../sandbox/server.ts'
import { sandboxEnv } from '../../sandbox/server.ts'
import { freePort, waitForHttp } from '../../test/harness/ports.ts'
import { type Child, ROOT, startChild } from './procs.ts'

export interface BenchSettings {
  mysqlServer: string
  redisUrl: string
  poolSize: number
  logLevel: string
  /** When set, the origin and the bridge write V8 CPU profiles here (node --cpu-prof). */
  profileDir?: string
  /** When set, the origin writes a heap snapshot here on SIGUSR2 (node --heapsnapshot-signal). */
  heapSnapshotDir?: string
  /** Extra node flags for the origin (tuning experiments, e.g. --max-old-space-size=128). */
  originNodeArgs?: string[]
  /** Origin processes: 1 runs dist/origin.mjs itself; more run it in cluster mode, as PM2 does. */
  originWorkers: number
}

export interface BenchStack {
  databaseUrl: string
  databaseName: string
  sandbox: StartedSandbox
  sandboxChild: Child
  origin: { url: string; child: Child; readyMs: number }
  bridge: { url: string; child: Child }
  edges: { deno: { url: string; child: Child }; workerd: { url: string; child: Child } }
  keyId: string
  edgeSecret: string
  jwtSecret: string
  adminOpenid: string
  close(): Promise<void>
}

const NODE = process.execPath
const RAISED = '1000000000'

/** One folder per process: each thread (main, and tsx's loader thread) writes its own profile there. */
function profileArgs(dir: string | undefined, name: string): string[] {
  return dir ? ['--cpu-prof', '--cpu-prof-dir', join(dir, name)] : []
}

export async function startBenchStack(s: BenchSettings, log: (line: string) => void): Promise<BenchStack> {
  const children: Child[] = []
  const cleanups: Array<() => Promise<void> | void> = []
  const databaseName = `points_bench_${randomBytes(5).toString('hex')}`
  const databaseUrl = `${s.mysqlServer}/${databaseName}`
  const close = async () => {
    for (const child of children.reverse()) await child.stop().catch(() => {})
    for (const c of cleanups.reverse()) await c()
  }
  try {
    log(`database ${databaseName}: migrating`)
    await migrateDatabase(databaseUrl)
    cleanups.push(async () => {
      const admin = await mysql.createConnection({ uri: s.mysqlServer })
      await admin.query(`DROP DATABASE IF EXISTS \`${databaseName}\``)
      await admin.end()
    })

    log('sandbox: starting')
    const sandboxChild = startChild(
      'sandbox',
      NODE,
      ['--import', 'tsx', 'bench/children/sandbox.ts'],
      process.env,
      {
        keepStdinOpen: true,
      },
    )
    children.push(sandboxChild)
    const sandboxLine = await sandboxChild.waitForLine(/^SANDBOX /)
    const started = JSON.parse(sandboxLine.slice('SANDBOX '.length)) as {
      url: string
      config: SandboxConfig
      payPrivateKeyPem: string
    }
    const sandbox: StartedSandbox = { ...started, close: () => sandboxChild.stop() }

    const keyId = 'bench'
    const edgeSecret = `edge-${randomBytes(24).toString('hex')}`
    const jwtSecret = `jwt-${randomBytes(24).toString('hex')}`
    const adminOpenid = `bench-admin-${randomBytes(4).toString('hex')}`
    const originPort = await freePort()
    const originUrl = `http://127.0.0.1:${originPort}`
    const originEnv: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(originPort),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: String(s.poolSize),
      REDIS_URL: s.redisUrl,
      JWT_SECRET: jwtSecret,
      EDGE_SIGNING_KEYS: `${keyId}:${edgeSecret}`,
      ADMIN_OPENIDS: adminOpenid,
      PHONE_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString('base64')}`,
      PUBLIC_BASE_URL: originUrl,
      LOG_LEVEL: s.logLevel,
      ...sandboxEnv(sandbox),
    }
    // The production start: the bundled origin (npm run start:origin builds it the same way).
    log('origin: building dist/origin.mjs')
    execFileSync(NODE, ['ops/build-origin.mjs'], { stdio: 'inherit' })
    // One process runs from a tree of the production packages alone, as after `npm ci --omit=dev`:
    // a dev dependency imported at run time fails the start-up here.
    const production = s.originWorkers > 1 ? undefined : productionTree(ROOT)
    if (production) cleanups.push(() => rmSync(production, { recursive: true, force: true }))
    log(
      `origin: starting${production ? ' on the production dependencies alone' : ''} (timing spawn → /ready 200)`,
    )
    const t0 = performance.now()
    const originChild = startChild(
      'origin',
      NODE,
      [
        ...profileArgs(s.profileDir, 'origin'),
        ...(s.heapSnapshotDir
          ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${s.heapSnapshotDir}`]
          : []),
        ...(s.originNodeArgs ?? []),
        ...(production
          ? ['--preserve-symlinks', '--preserve-symlinks-main', join(production, 'dist/origin.mjs')]
          : ['bench/children/origin-cluster.mjs']),
      ],
      { ...originEnv, ORIGIN_WORKERS: String(s.originWorkers) },
    )
    children.push(originChild)
    const exitedEarly = new Promise<never>((_, reject) =>
      originChild.proc.once('exit', (code) =>
        reject(new Error(`origin exited (${code}) during start-up:\n${originChild.output()}`)),
      ),
    )
    exitedEarly.catch(() => {}) // only start-up failures matter here
    await Promise.race([waitForHttp(`${originUrl}/ready`, 60_000, 10), exitedEarly])
    const readyMs = Math.round(performance.now() - t0)
    log(`origin: ready in ${readyMs} ms (pid ${originChild.pid})`)
    if (s.originWorkers > 1) {
      // /ready answered from the first worker; the load must find every worker up.
      await originChild.waitForLine(/workers listening/)
      log(`origin: cluster of ${s.originWorkers} workers listening`)
    }

    const bridgePort = await freePort()
    const bridgeToken = randomBytes(16).toString('hex')
    const bridgeChild = startChild(
      'bridge',
      NODE,
      [...profileArgs(s.profileDir, 'bridge'), '--import', 'tsx', 'ops/upstash-bridge.ts'],
      { ...process.env, BRIDGE_PORT: String(bridgePort), BRIDGE_TOKEN: bridgeToken, REDIS_URL: s.redisUrl },
    )
    children.push(bridgeChild)
    await bridgeChild.waitForLine(/listening/)
    const bridgeUrl = `http://127.0.0.1:${bridgePort}`
    log(`bridge: ${bridgeUrl} → ${s.redisUrl}`)

    const edgeVars: Record<string, string> = {
      ORIGIN_URL: originUrl,
      UPSTASH_REDIS_REST_URL: bridgeUrl,
      UPSTASH_REDIS_REST_TOKEN: bridgeToken,
      JWT_SECRET: jwtSecret,
      EDGE_SIGNING_KEY_ID: keyId,
      EDGE_SIGNING_SECRET: edgeSecret,
      // All load comes from one address and a handful of users: lift the limits (they still run).
      RATE_LIMIT_IP_MAX: RAISED,
      RATE_LIMIT_LOGIN_MAX: RAISED,
      RATE_LIMIT_WRITE_MAX: RAISED,
    }

    log('edge (deno): starting')
    const denoPort = await freePort()
    const denoDir = mkdtempSync(join(tmpdir(), 'bench-deno-'))
    cleanups.push(() => rmSync(denoDir, { recursive: true, force: true }))
    const denoChild = startChild(
      'deno',
      join(ROOT, 'node_modules/.bin/deno'),
      ['run', '--allow-net', '--allow-env', '--allow-read', 'edge/deno.ts'],
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...edgeVars,
        EDGE_PORT: String(denoPort),
        EDGE_HOST: '127.0.0.1',
        DENO_DIR: denoDir,
        DENO_NO_UPDATE_CHECK: '1',
      },
    )
    children.push(denoChild)
    await denoChild.waitForLine(/listening/)
    const denoUrl = `http://127.0.0.1:${denoPort}`
    await waitForHttp(`${denoUrl}/health`, 60_000)

    log('edge (workerd): starting through unstable_startWorker')
    const workerdChild = startChild(
      'workerd',
      NODE,
      ['--import', 'tsx', 'bench/children/workerd.ts'],
      { ...process.env, BENCH_EDGE_BINDINGS: JSON.stringify(edgeVars) },
      { keepStdinOpen: true },
    )
    children.push(workerdChild)
    const workerdUrl = (await workerdChild.waitForLine(/^WORKERD /, 90_000)).slice('WORKERD '.length).trim()
    await waitForHttp(`${workerdUrl}/health`, 60_000)
    log(`edges: deno ${denoUrl}, workerd ${workerdUrl}`)

    return {
      databaseUrl,
      databaseName,
      sandbox,
      sandboxChild,
      origin: { url: originUrl, child: originChild, readyMs },
      bridge: { url: bridgeUrl, child: bridgeChild },
      edges: { deno: { url: denoUrl, child: denoChild }, workerd: { url: workerdUrl, child: workerdChild } },
      keyId,
      edgeSecret,
      jwtSecret,
      adminOpenid,
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
