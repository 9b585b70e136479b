/** Runs the real origin (origin/main.ts) as a child process, the way `npm run start:origin` does. */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort, waitForHttp } from './ports.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface OriginProcess {
  url: string
  port: number
  child: ChildProcess
  /** Everything the origin wrote to stdout/stderr so far. */
  output(): string
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** What `npm run start:origin:deno` grants: network, environment, files, and OS facts drivers read. */
const DENO_ORIGIN_PERMISSIONS = ['--allow-net', '--allow-env', '--allow-read', '--allow-sys']

/** `ORIGIN_RUNTIME=deno` (npm run test:origin:deno) runs the same suites against the Deno origin. */
function originCommand(): [string, string[]] {
  if (process.env.ORIGIN_RUNTIME === 'deno')
    return [`${ROOT}node_modules/.bin/deno`, ['run', ...DENO_ORIGIN_PERMISSIONS, 'origin/deno.ts']]
  return [process.execPath, ['--import', 'tsx', 'origin/main.ts']]
}

export async function startOriginProcess(env: Record<string, string>, port?: number): Promise<OriginProcess> {
  const listenPort = port ?? (await freePort())
  const child = spawn(...originCommand(), {
    cwd: ROOT,
    // No load balancer in front: stop at once unless a test is about the drain.
    env: {
      ...process.env,
      SHUTDOWN_DRAIN_MS: '0',
      ...env,
      PORT: String(listenPort),
      HOST: '127.0.0.1',
      DENO_NO_UPDATE_CHECK: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const url = `http://127.0.0.1:${listenPort}`
  await Promise.race([
    waitForHttp(`${url}/health`),
    exited.then((code) => {
      throw new Error(`origin exited with ${code} during start-up:\n${output}`)
    }),
  ])
  return {
    url,
    port: listenPort,
    child,
    output: () => output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill(signal)
      return exited
    },
  }
}
