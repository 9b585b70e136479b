/**
 * Summarises a V8 .cpuprofile (node --cpu-prof; the bench writes them with BENCH_PROFILE_DIR):
 * self time by function and by package/file, and inclusive time of the heaviest frames.
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [top=25] [--since=S] [--until=S]
 *
 * --since/--until keep only the samples taken that many seconds after the profile started (the
 * process start), e.g. one bench phase.
 */
import { readFileSync } from 'node:fs'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

const [file, ...rest] = process.argv.slice(2)
if (!file) {
  console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top] [--since=S] [--until=S]')
  process.exit(2)
}
const top = Number(rest.find((a) => /^[0-9]+$/.test(a)) ?? 25)
const flag = (name: string, fallback: number) =>
  Number(rest.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback)
const sinceS = flag('since', 0)
const untilS = flag('until', Number.POSITIVE_INFINITY)

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

/** Where a frame comes from: a package name, a project file, or a V8/Node category. */
function origin(frame: CallFrame): string {
  const url = frame.url
  if (!url) return `(${frame.functionName || 'native'})`
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  if (url.startsWith('node:')) return url
  const project = /\/(origin|shared|db|sandbox|edge|bench|ops)\/(.*)$/.exec(url)
  return project ? `${project[1]}/${project[2]}` : url
}

const label = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${origin(f)}:${f.lineNumber + 1}`

const selfMs = new Map<number, number>()
let t = profile.startTime
let totalMs = 0
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i] ?? 0
  const atS = (t - profile.startTime) / 1e6
  if (atS < sinceS || atS > untilS) continue
  const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000
  const id = profile.samples[i]!
  selfMs.set(id, (selfMs.get(id) ?? 0) + ms)
  totalMs += ms
}

const selfByFunction = new Map<string, number>()
const selfByOrigin = new Map<string, number>()
const inclusive = new Map<string, number>()
for (const [id, ms] of selfMs) {
  const node = byId.get(id)!
  selfByFunction.set(label(node.callFrame), (selfByFunction.get(label(node.callFrame)) ?? 0) + ms)
  selfByOrigin.set(origin(node.callFrame), (selfByOrigin.get(origin(node.callFrame)) ?? 0) + ms)
  const seen = new Set<string>()
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!.callFrame)
    if (seen.has(l)) continue
    seen.add(l)
    inclusive.set(l, (inclusive.get(l) ?? 0) + ms)
  }
}

const busyMs = totalMs - (selfByOrigin.get('(idle)') ?? 0) - (selfByOrigin.get('(program)') ?? 0)
const pct = (ms: number) => `${((ms / totalMs) * 100).toFixed(1).padStart(5)}%`
const print = (title: string, map: Map<string, number>, n = top) => {
  console.log(`\n${title}`)
  for (const [k, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n))
    console.log(`${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${k}`)
}
console.log(
  `${file}: ${(totalMs / 1000).toFixed(1)} s sampled${sinceS ? ` (from ${sinceS} s on)` : ''}, ` +
    `${(busyMs / 1000).toFixed(1)} s not idle/program`,
)
print('self time by package / file', selfByOrigin)
print('self time by function', selfByFunction)
print('inclusive time (frames on the stack)', inclusive)
