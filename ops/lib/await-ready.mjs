/**
 * Waits until an origin is ready, for ops/deploy.sh and ops/rollback.sh; exits 0 when it is, 1 when
 * the time runs out (saying why on stderr).
 *   node await-ready.mjs --url http://127.0.0.1:3000/ready --timeout 60 [--pid 123]
 *   node await-ready.mjs --url … --timeout 60 --pm2 node_modules/.bin/pm2 --app points-origin --since <ms>
 * With --pid it also gives up when that process exits (a release that throws at start-up). With
 * --pm2, /ready is not enough — a worker of the old release may be the one answering — so every
 * instance of the app must also be online, started after --since, and stay up without a restart
 * while /ready answers 200 five times in a row. --max-restarts N gives up once an instance has
 * restarted N times (a fresh canary that crash-loops will not get better by waiting).
 */
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    timeout: { type: 'string', default: '60' },
    pid: { type: 'string' },
    pm2: { type: 'string' },
    app: { type: 'string', default: 'points-origin' },
    since: { type: 'string', default: '0' },
    'max-restarts': { type: 'string' },
  },
})
const deadline = Date.now() + Number(opt.timeout) * 1000
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
let why = 'not checked yet'

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** pids of the app's instances when all are online and started after --since, else undefined. */
function freshInstances() {
  const out = execFileSync(opt.pm2, ['jlist'], { encoding: 'utf8' })
  const procs = JSON.parse(out.slice(out.indexOf('['))).filter((p) => p.name === opt.app)
  if (procs.length === 0) {
    why = `no ${opt.app} process in PM2`
    return undefined
  }
  const looping = procs.find(
    (p) => opt['max-restarts'] && p.pm2_env.restart_time >= Number(opt['max-restarts']),
  )
  if (looping) {
    console.error(
      `await-ready: ${opt.app} instance ${looping.pm_id} restarted ${looping.pm2_env.restart_time} times`,
    )
    process.exit(1)
  }
  // PM2's status can say online for a worker whose process already died (a crash loop between
  // restarts): the pid must be alive too.
  const bad = procs.find(
    (p) =>
      p.pm2_env.status !== 'online' ||
      p.pm2_env.pm_uptime < Number(opt.since) ||
      !(p.pid > 0 && alive(p.pid)),
  )
  if (bad) {
    why = `instance ${bad.pm_id} is ${bad.pm2_env.status}, not yet a fresh online worker`
    return undefined
  }
  return procs.map((p) => `${p.pm_id}:${p.pid}:${p.pm2_env.restart_time}`).join(',')
}

async function ready() {
  try {
    const res = await fetch(opt.url, { signal: AbortSignal.timeout(3000) })
    await res.arrayBuffer()
    if (res.status !== 200) why = `${opt.url} answered ${res.status}`
    return res.status === 200
  } catch (err) {
    why = `${opt.url}: ${err.cause?.code ?? err.message}`
    return false
  }
}

let streak = 0
let seen
while (Date.now() < deadline) {
  if (opt.pid && !alive(Number(opt.pid))) {
    console.error(`await-ready: process ${opt.pid} exited before it was ready`)
    process.exit(1)
  }
  const instances = opt.pm2 ? freshInstances() : 'single'
  const ok = instances !== undefined && (await ready())
  streak = ok && instances === seen ? streak + 1 : ok ? 1 : 0
  seen = instances
  // Under PM2, 5 checks half a second apart with the same pids and restart counts: a worker that
  // crashes soon after it listens has to stay up for over 2 s to be taken for a good one.
  if (streak >= (opt.pm2 ? 5 : 1)) process.exit(0)
  await sleep(500)
}
console.error(`await-ready: not ready within ${opt.timeout} s: ${why}`)
process.exit(1)
