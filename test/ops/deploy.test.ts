/**
 * ops/deploy.sh and ops/rollback.sh for real: a scratch git repository made from this tree, real
 * PM2 with its own PM2_HOME, real npm ci and builds. A good ref goes live; a ref whose origin throws
 * at start-up, one whose PM2 workers cannot start and one that fails only after the switch all end
 * in a non-zero exit with the good release current, while it answers every request; rollback
 * returns to the release before.
 */
import { execFile, execFileSync } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiClient } from '../harness/client.ts'
import { idemKey, userWithPoints } from '../harness/fixtures.ts'
import { type Pm2, pm2Sandbox, productionOriginEnv } from '../harness/pm2.ts'
import { freePort } from '../harness/ports.ts'
import { HOLDS, invariants, type Stack, startStack } from '../harness/stack.ts'

const ROOT = join(import.meta.dirname, '../..')
const run = promisify(execFile)
let stack: Stack
let pm2: Pm2
let scratch: string
let repo: string
let root: string
let env: Record<string, string>
let url: string
const sha: Record<string, string> = {}

const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim()

/** Commits a change to the scratch repo and tags it. */
function commit(name: string, change: () => void) {
  change()
  git('add', '-A')
  git('commit', '-q', '-m', name)
  git('tag', name)
  sha[name] = git('rev-parse', 'HEAD')
}

function edit(file: string, from: string, to: string) {
  const path = join(repo, file)
  const text = readFileSync(path, 'utf8')
  if (!text.includes(from)) throw new Error(`${file} no longer contains ${from}`)
  writeFileSync(path, text.replace(from, to))
}

async function script(name: string, ...args: string[]) {
  return run('bash', [join(ROOT, 'ops', name), ...args], {
    env: { ...process.env, ...env },
    timeout: 200_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({
      code: err.code,
      stdout: err.stdout,
      stderr: err.stderr,
    }),
  )
}

const link = (name: string) => readlinkSync(join(root, name))
const pids = async () => (await pm2.list()).map((p) => p.pid).sort()

/** Signed writes on 4 connections until stopped; every outcome is recorded. */
function traffic(token: string) {
  const api = apiClient(url)
  const outcomes: string[] = []
  let sending = true
  const loops = Array.from({ length: 4 }, async () => {
    while (sending) {
      try {
        const r = await api.post('/api/points/gifts', { points: 1 }, { token, idempotencyKey: idemKey() })
        outcomes.push(String(r.status))
      } catch (err) {
        outcomes.push(`error: ${(err as Error).cause ?? err}`)
      }
      await new Promise((r) => setTimeout(r, 20))
    }
  })
  return {
    outcomes,
    async stop() {
      sending = false
      await Promise.all(loops)
      return outcomes
    },
  }
}

beforeAll(async () => {
  stack = await startStack()
  await stack.origin.stop()
  scratch = mkdtempSync(join(tmpdir(), 'deploy-'))
  repo = join(scratch, 'repo')
  root = join(scratch, 'root')
  // This tree as it is (tracked and new files), as the first commit of a scratch repository.
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean)
  for (const f of files) {
    mkdirSync(dirname(join(repo, f)), { recursive: true })
    cpSync(join(ROOT, f), join(repo, f))
  }
  git('init', '-q')
  git('config', 'user.email', 'deploy-test@example.com')
  git('config', 'user.name', 'deploy test')
  commit('good', () => {})
  commit('throws-at-start', () =>
    edit(
      'origin/main.ts',
      'async function main() {',
      "async function main() {\n  throw new Error('broken release')",
    ),
  )
  git('reset', '-q', '--hard', sha.good!)
  commit('workers-cannot-start', () =>
    edit(
      'ops/pm2/ecosystem.config.cjs',
      "'--enable-source-maps'",
      "'--enable-source-maps', '--require=/nonexistent/preload.cjs'",
    ),
  )
  git('reset', '-q', '--hard', sha.good!)
  commit('second-worker-broken', () =>
    edit(
      'origin/main.ts',
      'async function main() {',
      "async function main() {\n  if (process.env.NODE_APP_INSTANCE === '1') throw new Error('second worker broken')",
    ),
  )
  git('reset', '-q', '--hard', sha.good!)
  commit('good-2', () => edit('README.md', '', 'Release two.\n\n'))

  pm2 = pm2Sandbox()
  mkdirSync(join(scratch, 'logs'))
  const port = await freePort()
  url = `http://127.0.0.1:${port}`
  env = {
    ...productionOriginEnv(stack.env, {
      port,
      logDir: join(scratch, 'logs'),
      metricsToken: `deploy-test-${crypto.randomUUID()}`,
    }),
    PM2_HOME: pm2.home,
    DEPLOY_ROOT: root,
    DEPLOY_REPO: repo,
    DEPLOY_HEALTH_TIMEOUT_S: '25',
    DEPLOY_KEEP: '1',
  }
}, 120_000)

afterAll(async () => {
  await pm2?.kill()
  if (env) rmSync(join(tmpdir(), `points-origin-${env.PORT}`), { recursive: true, force: true })
  if (scratch) rmSync(scratch, { recursive: true, force: true })
  await stack?.close()
})

describe('deploy and rollback', () => {
  let first: string
  let sender: Awaited<ReturnType<typeof userWithPoints>>

  it('deploys a good ref: a release named by time and sha, current, two PM2 workers, ready', async () => {
    const r = await script('deploy.sh', 'good')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('good is live')
    first = link('current')
    expect(first).toMatch(new RegExp(`/releases/\\d{8}T\\d{6}Z-${sha.good!.slice(0, 12)}$`))
    expect((await pm2.list()).map((p) => p.pm2_env.status)).toEqual(['online', 'online'])
    expect((await fetch(`${url}/ready`)).status).toBe(200)
    sender = await userWithPoints(apiClient(url), 100_000)
  })

  it('refuses a release that throws at start-up without touching the running one', async () => {
    const running = await pids()
    const load = traffic(sender.token)
    const r = await script('deploy.sh', 'throws-at-start')
    const outcomes = await load.stop()
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('broken release')
    expect(r.stderr).toContain('does not start')
    expect(link('current')).toBe(first)
    expect(await pids()).toEqual(running)
    expect(outcomes.length).toBeGreaterThan(20)
    expect(outcomes.filter((o) => o !== '201')).toEqual([])
  })

  it('refuses a release whose PM2 workers cannot start (its ecosystem file), serving throughout', async () => {
    const running = await pids()
    const load = traffic(sender.token)
    const r = await script('deploy.sh', 'workers-cannot-start')
    const outcomes = await load.stop()
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('does not start')
    expect(link('current')).toBe(first)
    expect(await pids()).toEqual(running)
    expect(outcomes.filter((o) => o !== '201')).toEqual([])
  })

  it('switches back and reloads by itself when the new release fails after the switch, serving throughout', async () => {
    const load = traffic(sender.token)
    const r = await script('deploy.sh', 'second-worker-broken')
    const outcomes = await load.stop()
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('rolling back')
    expect(r.stderr).toContain(`rolled back to ${first}`)
    expect(link('current')).toBe(first)
    expect((await pm2.list()).map((p) => p.pm2_env.status)).toEqual(['online', 'online'])
    expect((await fetch(`${url}/ready`)).status).toBe(200)
    expect(outcomes.length).toBeGreaterThan(20)
    expect(outcomes.filter((o) => o !== '201')).toEqual([])
  })

  it('reloads into a second good release under traffic, keeps DEPLOY_KEEP, and rolls back on request', async () => {
    const load = traffic(sender.token)
    const before = await pids()
    const r = await script('deploy.sh', 'good-2')
    expect(r.code, r.stderr).toBe(0)
    const second = link('current')
    expect(second).toContain(sha['good-2']!.slice(0, 12))
    expect(link('previous')).toBe(first)
    expect((await pids()).filter((pid) => before.includes(pid))).toEqual([])
    // DEPLOY_KEEP=1: the newest release, plus the previous one rollback needs; the failed ones go.
    expect(readdirSync(join(root, 'releases')).sort()).toEqual(
      [first, second].map((p) => p.split('/').pop()).sort(),
    )

    const back = await script('rollback.sh')
    expect(back.code, back.stderr).toBe(0)
    expect(link('current')).toBe(first)
    expect(link('previous')).toBe(second)
    const outcomes = await load.stop()
    expect((await fetch(`${url}/ready`)).status).toBe(200)
    expect(outcomes.length).toBeGreaterThan(20)
    expect(outcomes.filter((o) => o !== '201')).toEqual([])
    const balance = await apiClient(url).get('/api/points/balance', { token: sender.token })
    expect(balance.body.balance).toBe(100_000 - balance.body.heldInGifts)
    expect(await invariants(stack)).toEqual(HOLDS)
  })
})
