/**
 * The model-based randomized test: a seeded generator sends batches of interleaved operations to a
 * real stack, and after every batch the stack must equal the reference model (through the checker)
 * and the ledger's global invariants must hold. Runs are recorded as operation logs that can be
 * replayed exactly and shrunk to the shortest log that still fails.
 */
import { randomBytes } from 'node:crypto'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, adminToken } from '../harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from '../harness/stack.ts'
import { checkBatch } from './checker.ts'
import { Driver, newRegistry, openidOf, pool, resolvable } from './driver.ts'
import { Generator, Rng, randomRule } from './generator.ts'
import { checkLotRules, expiringLots } from './lots.ts'
import {
  type GiftE,
  kindOf,
  Model,
  mKey,
  type OrderE,
  type RefundE,
  type Rule,
  type UserE,
  uKey,
  WorkState,
} from './model.ts'
import { type Exec, footprint, type Op, type StepConfig } from './ops.ts'

export interface SimOptions {
  seed: number
  ops: number
  concurrency: number
  /** Operations per batch (a checkpoint after each); default 3 × concurrency. */
  batchSize?: number
  users?: number
  merchants?: number
  maxUsers?: number
  /** Settle open states at the end and check every entity (default true). */
  final?: boolean
  log?: (line: string) => void
}

/** Stack settings the simulation is written for; startSimStack applies them. */
export const SIM_ENV = {
  GIFT_TTL_SECONDS: '3',
  ORDER_TTL_SECONDS: '20',
  JOB_INTERVAL_MS: '200',
  // Points expire within a run, so expiry races every other operation (API.md §14).
  POINTS_TTL_SECONDS: '5',
}

export interface OpLog {
  version: 1
  seed: number
  concurrency: number
  setup: { users: number; merchants: Rule[] }
  batches: Op[][]
}

export type Phase = 'setup' | 'batch' | 'settle' | 'final'

export interface SimFailure {
  phase: Phase
  kind: 'http' | 'callback' | 'model' | 'invariants' | 'liveness' | 'records' | 'error'
  batch: number
  report: string
}

export interface SimResult {
  ok: boolean
  seed: number
  log: OpLog
  failure?: SimFailure
  stats: {
    ops: number
    skipped: number
    batches: number
    ms: number
    searchStates: number
    status: Record<string, number>
    callbackRetries: number
    /** Milliseconds spent sending operations, reading snapshots, searching, checking invariants. */
    timing: { exec: number; snapshot: number; search: number; invariants: number }
  }
}

export function startSimStack(): Promise<Stack> {
  return startStack({ env: SIM_ENV })
}

function stepConfig(): StepConfig {
  return {
    giftTtlMs: Number(SIM_ENV.GIFT_TTL_SECONDS) * 1000,
    orderTtlMs: Number(SIM_ENV.ORDER_TTL_SECONDS) * 1000,
  }
}

class SimFailed extends Error {
  constructor(readonly failure: SimFailure) {
    super(`${failure.phase}/${failure.kind}: ${failure.report.split('\n')[0]}`)
  }
}

/** One simulation against one stack: setup, batches, settling and the final check. */
class Session {
  readonly model = new Model()
  readonly reg
  readonly driver: Driver
  readonly api
  readonly cfg = stepConfig()
  batchNo = 0
  stats: SimResult['stats'] = {
    ops: 0,
    skipped: 0,
    batches: 0,
    ms: 0,
    searchStates: 0,
    status: {},
    callbackRetries: 0,
    timing: { exec: 0, snapshot: 0, search: 0, invariants: 0 },
  }

  constructor(
    readonly stack: Stack,
    readonly concurrency: number,
    tag: string,
    readonly log: (line: string) => void,
  ) {
    this.api = apiClient(stack.origin.url)
    this.reg = newRegistry(tag)
    this.driver = new Driver(this.api, stack, this.reg, this.model)
  }

  async setup(setup: OpLog['setup']) {
    const { api, reg } = this
    reg.adminToken = await adminToken(api)
    const local = new WorkState(this.model.state)
    await Promise.all(
      setup.merchants.map(async (rule, i) => {
        const m = await activeMerchant(api, `Sim ${reg.prefix} ${i}`)
        const put = await api.put('/api/merchant/rule', rule, { token: m.ownerToken })
        if (put.status !== 200) throw new Error(`setup: rule ${put.status} ${put.text}`)
        reg.merchants.set(i, { id: m.merchantId, ownerToken: m.ownerToken })
        local.set(mKey(i), { k: 'merchant', rule })
      }),
    )
    await pool(
      Array.from({ length: setup.users }, (_, i) => async () => {
        const u = await api.login(openidOf(reg, i))
        reg.users.set(i, { openid: openidOf(reg, i), id: u.user.id, token: u.token })
        local.set(uKey(i), { k: 'user', balance: 0, earned: 0, entries: 0 })
      }),
      4,
    )
    this.model.commit(local.local)
  }

  private fail(phase: Phase, kind: SimFailure['kind'], report: string): never {
    throw new SimFailed({ phase, kind, batch: this.batchNo, report })
  }

  /** Runs one batch with `concurrency` requests in flight, then the checkpoint. */
  async runBatch(ops: Op[], phase: Phase = 'batch'): Promise<void> {
    this.batchNo++
    const runnable = ops.filter((op) => resolvable(op, this.model, this.reg))
    this.stats.skipped += ops.length - runnable.length
    const execs: Exec[] = []
    const t0 = Date.now()
    await pool(
      runnable.map((op) => async () => {
        execs.push(await this.driver.exec(op))
      }),
      this.concurrency,
    )
    this.stats.timing.exec += Date.now() - t0
    this.stats.ops += execs.length
    for (const x of execs) {
      const s = String(x.obs.status)
      this.stats.status[s] = (this.stats.status[s] ?? 0) + 1
      if (x.obs.status === 0 || x.obs.status >= 500)
        this.fail(phase, 'http', `#${x.op.n} ${x.op.t} answered ${x.obs.status}: ${x.obs.text.slice(0, 400)}`)
      for (const a of x.obs.attempts ?? []) {
        if (typeof a === 'number' && a >= 400 && a < 500)
          this.fail(
            phase,
            'callback',
            `#${x.op.n} ${x.op.t}: the origin refused a genuine notification with ${a}`,
          )
        if (a !== 204) this.stats.callbackRetries++
      }
    }
    await this.checkpoint(execs, phase)
  }

  async checkpoint(execs: Exec[], phase: Phase, everything = false): Promise<void> {
    const pre = new WorkState(this.model.state)
    const footprints = execs.map((x) => footprint(x.op, pre, x.meta))
    const dirty = this.driver.dirtyKeys(footprints)
    if (everything)
      for (const k of [...this.model.orders, ...this.model.refunds, ...this.model.gifts]) dirty.add(k)
    const t = this.stats.timing
    let t0 = Date.now()
    const snap = await this.driver.snapshot(dirty)
    t.snapshot += Date.now() - t0
    t0 = Date.now()
    const verdict = checkBatch(this.model, execs, snap, dirty, this.cfg)
    t.search += Date.now() - t0
    this.stats.searchStates += verdict.nodes
    if (!verdict.ok) this.fail(phase, 'model', verdict.report)
    t0 = Date.now()
    const inv = await invariants(this.stack)
    t.invariants += Date.now() - t0
    if (JSON.stringify(inv) !== JSON.stringify(HOLDS))
      this.fail(phase, 'invariants', `ledger invariants broken: ${JSON.stringify(inv)}`)
    const lotProblems = await checkLotRules(this.stack, Number(SIM_ENV.JOB_INTERVAL_MS), snap.startedAt)
    if (lotProblems.length) this.fail(phase, 'invariants', `lot rules broken: ${lotProblems.join('; ')}`)
    this.stats.batches++
  }

  /** Lost payments must be recovered (active query) and lost refund results applied (job). */
  async settle(deadlineMs: number): Promise<void> {
    const until = Date.now() + deadlineMs
    let n = 1_000_000_000
    for (;;) {
      const lost = this.model.orders.filter((k) => {
        const o = this.model.get<OrderE>(k)!
        return o.wx === 'SUCCESS' && o.status === 'PENDING'
      })
      const refunds = this.model.refunds.filter((k) => {
        const r = this.model.get<RefundE>(k)!
        return r.status === 'PROCESSING' && r.wx !== 'PROCESSING'
      })
      // Pending gifts must have expired and been returned, so nothing moves after the final read.
      const gifts = this.model.gifts.filter((k) => this.model.get<GiftE>(k)!.status === 'PENDING')
      // Likewise every lot must have expired (the TTL is short), so no EXPIRE comes after it.
      const lots = await expiringLots(this.stack)
      if (!lost.length && !refunds.length && !gifts.length && !lots) return
      if (Date.now() > until)
        this.fail(
          'settle',
          'liveness',
          `still open after ${deadlineMs} ms: ${[...lost, ...refunds, ...gifts].join(', ')}${lots ? ` and ${lots} lots` : ''}`,
        )
      await new Promise((r) => setTimeout(r, 1000))
      await this.runBatch(
        lost.map((k) => ({ t: 'poll', n: n++, order: Number(k.slice(6)) })),
        'settle',
      )
    }
  }

  /** Every entity read back, every user's records counted, every merchant's rule compared. */
  async finalCheck(): Promise<void> {
    await this.checkpoint([], 'final', true)
    const problems: string[] = []
    await pool(
      [...this.reg.users.entries()].map(([i, u]) => async () => {
        const user = this.model.get<UserE>(uKey(i))
        if (!user) return
        let count = 0
        let sum = 0
        let cursor: string | null = null
        do {
          const r: { body: any } = await this.api.get(
            `/api/points/records?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
            {
              token: u.token,
            },
          )
          count += r.body.items.length
          for (const item of r.body.items) sum += item.delta
          cursor = r.body.nextCursor
        } while (cursor)
        if (count !== user.entries || sum !== user.balance)
          problems.push(
            `user:${i} has ${count} records summing to ${sum}; model ${user.entries} / ${user.balance}`,
          )
      }),
      6,
    )
    for (const [i, m] of this.reg.merchants) {
      const r = await this.api.get('/api/merchant', { token: m.ownerToken })
      const want = this.model.get<{ k: 'merchant'; rule: Rule }>(mKey(i))!.rule
      if (JSON.stringify(r.body.rule) !== JSON.stringify(want))
        problems.push(`merchant:${i} rule ${JSON.stringify(r.body.rule)}, model ${JSON.stringify(want)}`)
    }
    if (problems.length) this.fail('final', 'records', problems.join('\n'))
    const pending = this.model.orders.filter((k) => this.model.get<OrderE>(k)!.status === 'PENDING').length
    const expired = [...this.model.state.keys()].filter((k) => kindOf(k) === 'expire').length
    this.log(
      `final check passed (${pending} orders still PENDING and unpaid, as the model says; ${expired} EXPIRE records)`,
    )
  }
}

function defaults(o: SimOptions) {
  return {
    batchSize: o.batchSize ?? o.concurrency * 3,
    users: o.users ?? 10,
    merchants: o.merchants ?? 3,
    maxUsers: o.maxUsers ?? 24,
    final: o.final ?? true,
    log: o.log ?? (() => {}),
  }
}

/** Generates and runs a simulation; the result carries the operation log up to a failure. */
export async function runSim(stack: Stack, o: SimOptions): Promise<SimResult> {
  const d = defaults(o)
  const rng = new Rng(o.seed)
  const setup = {
    users: d.users,
    merchants: Array.from({ length: d.merchants }, () => randomRule(rng)),
  }
  const log: OpLog = { version: 1, seed: o.seed, concurrency: o.concurrency, setup, batches: [] }
  const tag = `sim${o.seed.toString(36)}${randomBytes(3).toString('hex')}`
  const session = new Session(stack, o.concurrency, tag, d.log)
  const started = Date.now()
  const result = (failure?: SimFailure): SimResult => ({
    ok: !failure,
    seed: o.seed,
    log,
    failure,
    stats: { ...session.stats, ms: Date.now() - started },
  })
  try {
    await session.setup(setup)
    const gen = new Generator(
      rng,
      session.model,
      { batchSize: d.batchSize, maxUsers: d.maxUsers },
      `k${tag}x`,
    )
    let sent = 0
    let lastReport = Date.now()
    while (sent < o.ops) {
      const batch = gen.batch(Date.now()).slice(0, o.ops - sent)
      log.batches.push(batch)
      sent += batch.length
      await session.runBatch(batch)
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now()
        d.log(
          `  ${sent}/${o.ops} ops, ${session.stats.batches} checkpoints, ${Math.round((Date.now() - started) / 1000)} s`,
        )
      }
    }
    if (d.final) {
      await session.settle(45_000)
      await session.finalCheck()
    }
    return result()
  } catch (err) {
    if (err instanceof SimFailed) return result(err.failure)
    return result({
      phase: 'batch',
      kind: 'error',
      batch: session.batchNo,
      report: (err as Error).stack ?? String(err),
    })
  }
}

/** Replays an operation log exactly (no generation) on a stack. */
export async function replay(
  stack: Stack,
  log: OpLog,
  opts: { final?: boolean; log?: (line: string) => void } = {},
): Promise<SimResult> {
  const tag = `rp${randomBytes(4).toString('hex')}`
  const session = new Session(stack, log.concurrency, tag, opts.log ?? (() => {}))
  const started = Date.now()
  const result = (failure?: SimFailure): SimResult => ({
    ok: !failure,
    seed: log.seed,
    log,
    failure,
    stats: { ...session.stats, ms: Date.now() - started },
  })
  try {
    await session.setup(log.setup)
    // Keys are scoped per user, and users are new in every replay, so the logged keys can be reused.
    for (const batch of log.batches) await session.runBatch(batch)
    if (opts.final ?? true) {
      await session.settle(45_000)
      await session.finalCheck()
    }
    return result()
  } catch (err) {
    if (err instanceof SimFailed) return result(err.failure)
    return result({
      phase: 'batch',
      kind: 'error',
      batch: session.batchNo,
      report: (err as Error).stack ?? String(err),
    })
  }
}

/**
 * The operations that can matter to a failure: those touching a user or merchant named in the
 * report, or an order / gift / refund of theirs (a heuristic slice; the shrinker keeps it only if
 * the failure still reproduces without the rest).
 */
export function sliceForFailure(log: OpLog, report: string): OpLog {
  const ops = log.batches.flat()
  const orderOf = new Map<number, { user: number; merchant: number }>()
  const giftOf = new Map<number, number>()
  const refundOf = new Map<number, number>()
  for (const op of ops) {
    if (op.t === 'order') orderOf.set(op.grp, { user: op.user, merchant: op.merchant })
    if (op.t === 'gift') giftOf.set(op.grp, op.user)
    if (op.t === 'refund') refundOf.set(op.grp, op.order)
  }
  const users = new Set<number>()
  const merchants = new Set<number>()
  for (const [, kind, n] of report.matchAll(/\b(user|order|gift|refund|merchant):(\d+)/g)) {
    const id = Number(n)
    if (kind === 'user') users.add(id)
    if (kind === 'merchant') merchants.add(id)
    const order = kind === 'order' ? id : kind === 'refund' ? refundOf.get(id) : undefined
    if (order !== undefined && orderOf.has(order)) {
      users.add(orderOf.get(order)!.user)
      merchants.add(orderOf.get(order)!.merchant)
    }
    if (kind === 'gift' && giftOf.has(id)) users.add(giftOf.get(id)!)
  }
  const keep = (op: Op): boolean => {
    switch (op.t) {
      case 'order':
        return users.has(op.user) || merchants.has(op.merchant)
      case 'pay':
      case 'poll':
      case 'refund': {
        const o = orderOf.get(op.order)
        return !!o && (users.has(o.user) || merchants.has(o.merchant))
      }
      case 'refundDone': {
        const o = orderOf.get(refundOf.get(op.refund) ?? -1)
        return !!o && (users.has(o.user) || merchants.has(o.merchant))
      }
      case 'rule':
        return merchants.has(op.merchant)
      case 'claim':
      case 'cancel':
      case 'viewGift':
        return users.has(op.user) || users.has(giftOf.get(op.gift) ?? -1)
      case 'grant':
      case 'adjust':
      case 'gift':
      case 'balance':
      case 'login':
        return users.has(op.user)
    }
  }
  return { ...log, batches: log.batches.map((b) => b.filter(keep)).filter((b) => b.length) }
}

/**
 * Shrinks a failing log: keep the batches up to the failing one; try the slice of operations that
 * touch the failing entities; then delta-debug — drop chunks of operations (halving the chunk size
 * down to single operations) while a replay on a fresh stack still fails the same way. Each
 * candidate is tried twice, since concurrency makes some failures intermittent.
 */
export async function shrink(
  failing: SimResult,
  opts: { maxAttempts?: number; maxMs?: number; log?: (line: string) => void } = {},
): Promise<OpLog> {
  const say = opts.log ?? (() => {})
  const f = failing.failure!
  const needFinal = f.phase !== 'batch'
  let best: OpLog = { ...failing.log, batches: failing.log.batches.slice(0, needFinal ? undefined : f.batch) }
  const deadline = Date.now() + (opts.maxMs ?? 20 * 60_000)
  let attempts = 0
  const budget = () => attempts < (opts.maxAttempts ?? 150) && Date.now() < deadline
  const fails = async (candidate: OpLog): Promise<boolean> => {
    for (let i = 0; i < 2 && budget(); i++) {
      attempts++
      const stack = await startSimStack()
      try {
        const r = await replay(stack, candidate, { final: needFinal })
        if (!r.ok && r.failure!.kind === f.kind) return true
      } finally {
        await stack.close()
      }
    }
    return false
  }
  const opsOf = (l: OpLog) => l.batches.reduce((s, b) => s + b.length, 0)
  const progress = () => say(`  ${best.batches.length} batches / ${opsOf(best)} ops (${attempts} replays)`)
  say(`shrinking from ${best.batches.length} batches / ${opsOf(best)} ops`)
  const sliced = sliceForFailure(best, f.report)
  if (opsOf(sliced) < opsOf(best) && (await fails(sliced))) {
    best = sliced
    progress()
  }
  // Delta debugging over operations; batch boundaries stay (an emptied batch disappears).
  const without = (log: OpLog, drop: Set<number>): OpLog => {
    let i = 0
    const batches = log.batches.map((b) => b.filter(() => !drop.has(i++))).filter((b) => b.length)
    return { ...log, batches }
  }
  for (let size = Math.max(1, Math.floor(opsOf(best) / 2)); budget(); size = Math.floor(size / 2)) {
    for (let start = 0; start < opsOf(best) && budget(); ) {
      const drop = new Set(Array.from({ length: Math.min(size, opsOf(best) - start) }, (_, k) => start + k))
      const candidate = without(best, drop)
      if (opsOf(candidate) && (await fails(candidate))) {
        best = candidate
        progress()
      } else start += size
    }
    if (size === 1) break
  }
  say(`shrunk to ${best.batches.length} batches / ${opsOf(best)} ops after ${attempts} replays`)
  return best
}

export function formatLog(log: OpLog): string {
  const lines = [`seed ${log.seed}, concurrency ${log.concurrency}, setup ${JSON.stringify(log.setup)}`]
  log.batches.forEach((b, i) => {
    lines.push(`batch ${i + 1}:`)
    for (const op of b) lines.push(`  ${JSON.stringify(op)}`)
  })
  return lines.join('\n')
}
