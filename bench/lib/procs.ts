/** Child processes the bench starts, and what /proc says about them (CPU time, RSS). */
import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CLOCK_TICKS_PER_S = 100

export interface Child {
  name: string
  proc: ChildProcess
  pid: number
  output(): string
  /** Resolves when a line of output matches (or rejects when the process exits first). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>
  stop(timeoutMs?: number): Promise<void>
}

export function startChild(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { keepStdinOpen?: boolean } = {},
): Child {
  const proc = spawn(command, args, {
    cwd: ROOT,
    env,
    // An open stdin pipe lets bench children notice the bench itself died (they exit on EOF).
    stdio: [opts.keepStdinOpen ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const listeners = new Set<() => void>()
  const onData = (d: Buffer) => {
    output += d.toString()
    if (output.length > 200_000) output = output.slice(-100_000)
    for (const l of listeners) l()
  }
  proc.stdout?.on('data', onData)
  proc.stderr?.on('data', onData)
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  const child: Child = {
    name,
    proc,
    pid: proc.pid ?? -1,
    output: () => output,
    waitForLine(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = output.split('\n').find((l) => pattern.test(l))
          if (line === undefined) return
          done()
          resolve(line)
        }
        const onExit = () => {
          done()
          reject(
            new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) during start-up:\n${output}`),
          )
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${output}`))
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          listeners.delete(check)
          proc.off('exit', onExit)
        }
        listeners.add(check)
        proc.once('exit', onExit)
        check()
      })
    },
    async stop(timeoutMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
      await exited
      clearTimeout(timer)
    },
  }
  return child
}

function statOf(pid: number): { ppid: number; cpuS: number; comm: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm is in parentheses and may hold spaces; the fields after it are space separated.
    const close = text.lastIndexOf(')')
    const comm = text.slice(text.indexOf('(') + 1, close)
    const fields = text.slice(close + 2).split(' ')
    const utime = Number(fields[11])
    const stime = Number(fields[12])
    return { ppid: Number(fields[1]), cpuS: (utime + stime) / CLOCK_TICKS_PER_S, comm }
  } catch {
    return undefined
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^[0-9]+$/.test(d))
    .map(Number)
}

/** The pid itself and every process below it. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const p of allPids()) {
    const s = statOf(p)
    if (!s) continue
    const list = children.get(s.ppid) ?? []
    list.push(p)
    children.set(s.ppid, list)
  }
  const out: number[] = []
  const walk = (p: number) => {
    out.push(p)
    for (const c of children.get(p) ?? []) walk(c)
  }
  walk(pid)
  return out
}

/** Processes by command name, e.g. the shared MariaDB and Redis servers. */
export function pidsByComm(names: string[]): number[] {
  return allPids().filter((p) => names.includes(statOf(p)?.comm ?? ''))
}

/** CPU seconds the whole machine spent busy since boot (all cores, every process, ours or not). */
function machineBusyS(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  // cpu user nice system idle iowait irq softirq steal ...
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) /
    CLOCK_TICKS_PER_S
  )
}

/** Named groups of processes whose CPU time is read before and after a phase. */
export class CpuMeter {
  constructor(private readonly groups: () => Record<string, number[]>) {}

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [name, pids] of Object.entries(this.groups())) {
      out[name] = pids.reduce((sum, p) => sum + (statOf(p)?.cpuS ?? 0), 0)
    }
    out['whole machine'] = machineBusyS()
    return out
  }

  /** CPU seconds each group used between two snapshots, as a share of one core over `wallS`. */
  static diff(before: Record<string, number>, after: Record<string, number>, wallS: number) {
    const out: Record<string, { cpuS: number; cores: number }> = {}
    for (const [name, end] of Object.entries(after)) {
      const cpuS = Math.round((end - (before[name] ?? 0)) * 100) / 100
      out[name] = { cpuS, cores: Math.round((cpuS / wallS) * 100) / 100 }
    }
    return out
  }
}

/** VmRSS and VmHWM (peak) of a process in MiB. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
    return { rssMiB: Math.round(kb('VmRSS') / 102.4) / 10, peakMiB: Math.round(kb('VmHWM') / 102.4) / 10 }
  } catch {
    return undefined
  }
}

/** VmRSS and VmHWM summed over processes (a cluster's primary and workers); NaN if none is left. */
export function sumMemory(pids: number[]): { rssMiB: number; peakMiB: number } {
  const each = pids.map(memoryOf).filter((m) => m !== undefined)
  if (each.length === 0) return { rssMiB: Number.NaN, peakMiB: Number.NaN }
  const sum = (f: (m: { rssMiB: number; peakMiB: number }) => number) =>
    Math.round(each.reduce((a, m) => a + f(m), 0) * 10) / 10
  return { rssMiB: sum((m) => m.rssMiB), peakMiB: sum((m) => m.peakMiB) }
}
