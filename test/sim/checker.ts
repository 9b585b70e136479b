/**
 * Judges one batch of concurrent operations against the model (a linearizability check in the
 * style of Wing & Gong / Lowe): find an order of the batch's operations that respects real time
 * (an operation that answered before another was sent comes first) in which every observed answer
 * is legal, and after which the model equals the stack's state read at the checkpoint.
 *
 * Besides the operations the simulator sent, the stack does things on its own (the origin's jobs,
 * the sandbox's redeliveries): a lost payment gets applied, an expired order closed, an expired
 * gift returned, a lost refund result applied. These are "floating" events: each may happen at any
 * point after it became possible, and the checkpoint snapshot says whether it did. The search
 * places each one that did wherever the answers allow.
 *
 * Operations that touch disjoint model entities commute, so the batch is split into components of
 * operations that share an entity, and each component is searched on its own.
 */
import {
  applyPayment,
  closeOrder,
  dKey,
  type Entity,
  eKey,
  endGift,
  type GiftE,
  heldInGifts,
  kindOf,
  type Model,
  move,
  numOf,
  type OrderE,
  type RefundE,
  settleRefund,
  type UserE,
  uKey,
  WorkState,
} from './model.ts'
import { compareOrderView, describeOp, type Exec, footprint, SLOP_MS, type StepConfig, step } from './ops.ts'

export interface UserView {
  balance: number
  heldInGifts: number
  totalEarned: number
}
export interface Snapshot {
  users: Map<number, UserView>
  orders: Map<string, any>
  refunds: Map<string, { status: string; pointsClawedBack: number; amountFen: number }>
  gifts: Map<string, { status: string; points: number }>
  /** Every EXPIRE record on the stack so far: its entry, the simulator's user, points, when. */
  expires: Array<{ id: number; user: number; points: number; atMs: number }>
  /** When the read that produced this snapshot started and ended (gift views depend on the clock). */
  startedAt: number
  endedAt: number
}

interface Floating {
  label: string
  keys: string[]
  earliest(st: WorkState): number
  guard(st: WorkState): boolean
  apply(st: WorkState): void
}

interface Cand {
  label: string
  keys: string[]
  x?: Exec
  fl?: Floating
}

export interface BatchVerdict {
  ok: boolean
  report: string
  nodes: number
}

const SEARCH_BUDGET = 200_000

/** The floating events the snapshot shows happened, for entities the batch touched or left open. */
function floatingEvents(model: Model, dirty: Set<string>, snap: Snapshot, creates: Map<string, Exec>) {
  const out: Floating[] = []
  const userOfOrder = (key: string): [number, number] | null => {
    const o = model.get<OrderE>(key)
    if (o) return [o.user, o.merchant]
    const x = creates.get(key)
    return x && x.op.t === 'order' ? [x.op.user, x.op.merchant] : null
  }
  // The expiry job's records (API.md §14): each happened after the time its run began (the record's
  // createdAt) and before the snapshot, wherever the answers put it; which lot and how much is the
  // ledger invariants' and checkLotRules' business, the balance effect is the model's.
  for (const e of snap.expires) {
    if (model.get(eKey(e.id))) continue
    out.push({
      label: `~expire ${e.points} of ${uKey(e.user)}`,
      keys: [eKey(e.id), uKey(e.user)],
      earliest: () => e.atMs,
      guard: (st) => !st.get(eKey(e.id)),
      apply: (st) => {
        st.set(eKey(e.id), { k: 'expire' })
        move(st, e.user, -e.points, false)
      },
    })
  }
  for (const key of dirty) {
    const kind = kindOf(key)
    if (kind === 'order') {
      const seen = snap.orders.get(key)?.status
      const um = userOfOrder(key)
      if (!seen || seen === 'PENDING' || !um) continue
      out.push({
        label: `~paid ${key}`,
        keys: [key, uKey(um[0]), dKey(um[0], um[1])],
        earliest: () => 0,
        guard: (st) => {
          const o = st.get<OrderE>(key)
          return !!o && o.wx === 'SUCCESS' && (o.status === 'PENDING' || o.status === 'CLOSED')
        },
        apply: (st) => applyPayment(st, key),
      })
      if (seen === 'CLOSED') {
        out.push({
          label: `~closed ${key}`,
          // A close gives the order's redeemed points back.
          keys: [key, uKey(um[0])],
          earliest: (st) => st.get<OrderE>(key)?.expiresAtMs ?? 0,
          guard: (st) => {
            const o = st.get<OrderE>(key)
            return !!o && o.status === 'PENDING' && o.wx === 'NOTPAY'
          },
          apply: (st) => closeOrder(st, key),
        })
      }
    } else if (kind === 'gift') {
      if (snap.gifts.get(key)?.status !== 'EXPIRED') continue
      const sender = model.get<GiftE>(key)?.sender ?? (creates.get(key)?.op as { user?: number })?.user
      if (sender === undefined) continue
      out.push({
        label: `~expired ${key}`,
        keys: [key, uKey(sender)],
        earliest: (st) => st.get<GiftE>(key)?.expiresAtMs ?? Number.POSITIVE_INFINITY,
        guard: (st) => st.get<GiftE>(key)?.status === 'PENDING',
        apply: (st) => {
          endGift(st, key, 'EXPIRED')
        },
      })
    } else if (kind === 'refund') {
      const seen = snap.refunds.get(key)?.status
      if (!seen || seen === 'PROCESSING') continue
      const r = model.get<RefundE>(key)
      const orderKey = r?.order ?? `order:${(creates.get(key)?.op as { order?: number })?.order}`
      const um = userOfOrder(orderKey)
      if (!um) continue
      out.push({
        label: `~refund-result ${key}`,
        keys: [key, orderKey, uKey(um[0])],
        earliest: () => 0,
        guard: (st) => {
          const cur = st.get<RefundE>(key)
          return !!cur && cur.status === 'PROCESSING' && cur.wx !== 'PROCESSING'
        },
        apply: (st) => settleRefund(st, key, st.get<RefundE>(key)!.wx as 'SUCCESS' | 'CLOSED'),
      })
    }
  }
  return out
}

/** Differences between the model (through `st`) and the snapshot, for `keys`. */
export function diffAgainstSnapshot(
  model: Model,
  st: WorkState,
  keys: Iterable<string>,
  snap: Snapshot,
): string[] {
  const diffs: string[] = []
  for (const key of keys) {
    const kind = kindOf(key)
    if (kind === 'user') {
      const seen = snap.users.get(numOf(key))
      const u = st.get<UserE>(key)
      if (!seen || !u) continue
      const want = {
        balance: u.balance,
        heldInGifts: heldInGifts(st, model.giftKeysOf(numOf(key), st.local)),
        totalEarned: u.earned,
      }
      const shown = { balance: seen.balance, heldInGifts: seen.heldInGifts, totalEarned: seen.totalEarned }
      if (JSON.stringify(want) !== JSON.stringify(shown))
        diffs.push(`${key}: stack ${JSON.stringify(shown)}, model ${JSON.stringify(want)}`)
    } else if (kind === 'order') {
      const seen = snap.orders.get(key)
      if (!seen) continue
      const o = st.get<OrderE>(key)
      if (!o) diffs.push(`${key}: exists on the stack, not in the model`)
      else {
        const d = compareOrderView(o, seen)
        if (d) diffs.push(`${key}: ${d}`)
        if (seen.pointsClawedBack !== undefined && seen.pointsClawedBack !== o.clawed)
          diffs.push(`${key}: pointsClawedBack ${seen.pointsClawedBack}, model ${o.clawed}`)
      }
    } else if (kind === 'refund') {
      const seen = snap.refunds.get(key)
      if (!seen) continue
      const r = st.get<RefundE>(key)
      if (!r) diffs.push(`${key}: exists on the stack, not in the model`)
      else if (
        seen.status !== r.status ||
        seen.pointsClawedBack !== r.clawed ||
        seen.amountFen !== r.amountFen
      )
        diffs.push(
          `${key}: stack ${JSON.stringify(seen)}, model ${JSON.stringify({ status: r.status, pointsClawedBack: r.clawed, amountFen: r.amountFen })}`,
        )
    } else if (kind === 'gift') {
      const seen = snap.gifts.get(key)
      if (!seen) continue
      const g = st.get<GiftE>(key)
      if (!g) diffs.push(`${key}: exists on the stack, not in the model`)
      else if (!giftViewLegal(g, seen, snap.startedAt, snap.endedAt))
        diffs.push(
          `${key}: stack ${seen.status}/${seen.points}, model ${g.status}/${g.points} (expires ${g.expiresAtMs}, read ${snap.startedAt}..${snap.endedAt})`,
        )
    }
  }
  return diffs
}

/**
 * A gift view read during [from, to]: a PENDING gift past its expiry is shown EXPIRED before the
 * job settles it, so the view alone does not say whether the points went back yet (the balances do).
 */
export function giftViewLegal(g: GiftE, seen: { status: string; points: number }, from: number, to: number) {
  if (seen.points !== g.points) return false
  if (g.status !== 'PENDING') return seen.status === g.status
  if (seen.status === 'PENDING') return from < g.expiresAtMs + SLOP_MS
  return seen.status === 'EXPIRED' && to >= g.expiresAtMs - SLOP_MS
}

class UnionFind {
  private parent = new Map<string, string>()
  find(k: string): string {
    let p = this.parent.get(k) ?? k
    if (p !== k) {
      p = this.find(p)
      this.parent.set(k, p)
    }
    return p
  }
  union(a: string, b: string) {
    const ra = this.find(a)
    const rb = this.find(b)
    if (ra !== rb) this.parent.set(ra, rb)
  }
}

function searchComponent(
  model: Model,
  cands: Cand[],
  snap: Snapshot,
  cfg: StepConfig,
): { st: WorkState | null; nodes: number; report: string } {
  const ops = cands.filter((c) => c.x).sort((a, b) => a.x!.resp - b.x!.resp || a.x!.inv - b.x!.inv)
  const fls = cands.filter((c) => c.fl)
  const keys = [...new Set(cands.flatMap((c) => c.keys))]
  const done = ops.map(() => false)
  const fired = fls.map(() => false)
  const seen = new Set<string>()
  const path: string[] = []
  let nodes = 0
  let deepest = { depth: -1, path: [] as string[], why: [] as string[] }

  const note = (why: string) => {
    if (path.length > deepest.depth) deepest = { depth: path.length, path: [...path], why: [why] }
    else if (path.length === deepest.depth && deepest.why.length < 12) deepest.why.push(why)
  }

  const rec = (st: WorkState): WorkState | null => {
    if (++nodes > SEARCH_BUDGET) return null
    const memo = `${done.map(Number).join('')}|${fired.map(Number).join('')}|${st.hash()}`
    if (seen.has(memo)) return null
    seen.add(memo)
    let minResp = Number.POSITIVE_INFINITY
    for (let i = 0; i < ops.length; i++) if (!done[i]) minResp = Math.min(minResp, ops[i]!.x!.resp)
    if (minResp === Number.POSITIVE_INFINITY) {
      const diffs = diffAgainstSnapshot(model, st, keys, snap)
      if (diffs.length === 0) return st
      note(`end state differs: ${diffs.join('; ')}`)
    }
    for (let i = 0; i < ops.length; i++) {
      const c = ops[i]!
      if (done[i] || c.x!.inv > minResp) continue
      const next = st.clone()
      let err: string | null
      try {
        err = step(next, c.x!, cfg)
      } catch (e) {
        err = `model error: ${(e as Error).message}`
      }
      if (err) {
        note(`${c.label}: ${err}`)
        continue
      }
      done[i] = true
      path.push(c.label)
      const r = rec(next)
      path.pop()
      done[i] = false
      if (r) return r
    }
    for (let j = 0; j < fls.length; j++) {
      const f = fls[j]!.fl!
      if (fired[j] || !f.guard(st) || f.earliest(st) > minResp + SLOP_MS) continue
      const next = st.clone()
      f.apply(next)
      fired[j] = true
      path.push(f.label)
      const r = rec(next)
      path.pop()
      fired[j] = false
      if (r) return r
    }
    return null
  }

  const st = rec(new WorkState(model.state))
  if (st) return { st, nodes, report: '' }
  const lines = [
    nodes > SEARCH_BUDGET ? `search budget of ${SEARCH_BUDGET} states exhausted` : 'no legal order exists',
    'operations (sorted by answer time):',
    ...ops.map(
      (c) =>
        `  ${c.label} [${c.x!.inv % 100000}..${c.x!.resp % 100000}] -> ${c.x!.obs.status} ${c.x!.obs.text.slice(0, 160)}${c.x!.obs.attempts ? ` deliveries ${JSON.stringify(c.x!.obs.attempts)}` : ''}`,
    ),
    ...fls.map((c) => `  ${c.label} (floating)`),
    'model before the batch:',
    ...keys.map((k) => `  ${k} = ${JSON.stringify(model.get(k) ?? null)}`),
    `deepest legal prefix (${deepest.depth}): ${deepest.path.join(' → ') || '(none)'}`,
    'why it stopped there:',
    ...deepest.why.map((w) => `  ${w}`),
  ]
  return { st: null, nodes, report: lines.join('\n') }
}

/**
 * Checks a batch and, when it is legal, commits the adopted outcome to the model. `dirty` is every
 * model key whose stack state the snapshot read besides users.
 */
export function checkBatch(
  model: Model,
  execs: Exec[],
  snap: Snapshot,
  dirty: Set<string>,
  cfg: StepConfig,
): BatchVerdict {
  const pre = new WorkState(model.state)
  const creates = new Map<string, Exec>()
  const cands: Cand[] = execs.map((x) => {
    const keys = footprint(x.op, pre, x.meta)
    if (x.op.t === 'order' || x.op.t === 'gift' || x.op.t === 'refund')
      creates.set(keys[x.op.t === 'order' ? 2 : 1]!, x)
    return { label: describeOp(x.op), keys, x }
  })
  for (const f of floatingEvents(model, dirty, snap, creates))
    cands.push({ label: f.label, keys: f.keys, fl: f })

  const uf = new UnionFind()
  for (const c of cands) for (const k of c.keys) uf.union(c.keys[0]!, k)
  const comps = new Map<string, Cand[]>()
  for (const c of cands) {
    const root = uf.find(c.keys[0]!)
    comps.set(root, [...(comps.get(root) ?? []), c])
  }

  let nodes = 0
  const adopted = new Map<string, Entity>()
  const locals: Array<Map<string, Entity>> = []
  for (const comp of comps.values()) {
    const res = searchComponent(model, comp, snap, cfg)
    nodes += res.nodes
    if (!res.st) return { ok: false, report: res.report, nodes }
    locals.push(res.st.local)
    for (const [k, v] of res.st.local) adopted.set(k, v)
  }
  // Everything the snapshot read must now agree with the model, touched by the batch or not.
  const allKeys = [
    ...[...snap.users.keys()].map(uKey),
    ...snap.orders.keys(),
    ...snap.refunds.keys(),
    ...snap.gifts.keys(),
  ]
  const diffs = diffAgainstSnapshot(model, new WorkState(model.state, adopted), allKeys, snap)
  if (diffs.length)
    return {
      ok: false,
      report: `state differs outside the batch's operations:\n  ${diffs.join('\n  ')}`,
      nodes,
    }
  for (const l of locals) model.commit(l)
  return { ok: true, report: '', nodes }
}
