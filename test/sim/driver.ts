/**
 * Sends the simulator's operations to a real stack (the origin over HTTP with edge-signed requests,
 * the WeChat sandbox's control routes) and reads the stack's state back for checkpoints.
 */
import { sql } from 'drizzle-orm'
import { control } from '../../sandbox/testing.ts'
import type { ApiClient, ApiResponse } from '../harness/client.ts'
import type { Stack } from '../harness/stack.ts'
import type { Snapshot, UserView } from './checker.ts'
import {
  type GiftE,
  gKey,
  kindOf,
  type Model,
  numOf,
  type OrderE,
  oKey,
  type RefundE,
  rKey,
} from './model.ts'
import type { Exec, Obs, Op } from './ops.ts'

export interface Registry {
  prefix: string
  adminToken: string
  users: Map<number, { openid: string; id: string; token: string }>
  merchants: Map<number, { id: string; ownerToken: string }>
  orders: Map<number, { id: string; outTradeNo: string; user: number; merchant: number }>
  refunds: Map<number, { id: string; outRefundNo: string; merchant: number }>
  gifts: Map<number, { id: string; code: string; sender: number }>
}

export function newRegistry(prefix: string): Registry {
  return {
    prefix,
    adminToken: '',
    users: new Map(),
    merchants: new Map(),
    orders: new Map(),
    refunds: new Map(),
    gifts: new Map(),
  }
}

export const openidOf = (reg: Registry, user: number) => `${reg.prefix}-u${user}`

const fromApi = (r: ApiResponse): Obs => ({ status: r.status, body: r.body, text: r.text })

/** A fetch that failed outright (no HTTP answer) becomes status 0, which no model step accepts. */
async function guarded(work: () => Promise<Obs>): Promise<Obs> {
  try {
    return await work()
  } catch (err) {
    return { status: 0, body: null, text: `request failed: ${(err as Error).message}` }
  }
}

function deliveriesOf(json: any): Pick<Obs, 'firstOk' | 'attempts'> {
  const id = json?.notificationId
  if (!id) return { firstOk: false, attempts: [] }
  const copies = (json.deliveries ?? []).filter((d: any) => d.notificationId === id)
  const attempts = copies.map((d: any) => d.attempts?.[0]?.status ?? d.attempts?.[0]?.error ?? 'none')
  return { firstOk: attempts.some((s: unknown) => typeof s === 'number' && s >= 200 && s < 300), attempts }
}

/** Whether every entity the op refers to exists (in the model and on the stack) before its batch. */
export function resolvable(op: Op, model: Model, reg: Registry): boolean {
  const user = (i: number) => reg.users.has(i) && !!model.get(`user:${i}`)
  switch (op.t) {
    case 'login':
      return true
    case 'order':
      return user(op.user) && reg.merchants.has(op.merchant)
    case 'pay':
    case 'poll':
      return reg.orders.has(op.order) && !!model.get(oKey(op.order))
    case 'refund':
      return reg.orders.has(op.order) && !!model.get(oKey(op.order))
    case 'refundDone':
      return reg.refunds.has(op.refund) && !!model.get(rKey(op.refund))
    case 'grant':
      return user(op.user) && reg.merchants.has(op.merchant)
    case 'adjust':
    case 'balance':
      return user(op.user)
    case 'gift':
      return user(op.user)
    case 'claim':
    case 'cancel':
    case 'viewGift':
      return user(op.user) && reg.gifts.has(op.gift) && !!model.get(gKey(op.gift))
    case 'rule':
      return reg.merchants.has(op.merchant)
  }
}

export class Driver {
  constructor(
    readonly api: ApiClient,
    readonly stack: Stack,
    readonly reg: Registry,
    readonly model: Model,
  ) {}

  private token(user: number) {
    return this.reg.users.get(user)!.token
  }

  /** Sends one operation; registers what it created. */
  async exec(op: Op): Promise<Exec> {
    const meta: Exec['meta'] = {}
    if ((op.t === 'claim' || op.t === 'cancel') && op.atExpiry !== undefined) {
      const wait = this.model.get<GiftE>(gKey(op.gift))!.expiresAtMs + op.atExpiry - Date.now()
      if (wait > 0 && wait < 5_000) await new Promise((r) => setTimeout(r, wait))
    }
    const inv = Date.now()
    const obs = await guarded(() => this.send(op, meta))
    const resp = Date.now()
    this.register(op, obs)
    return { op, inv, resp, obs, meta }
  }

  private async send(op: Op, meta: Exec['meta']): Promise<Obs> {
    const { api, reg } = this
    const post = async (path: string, body: unknown, token: string, key: string | null, actor: string) => {
      meta.actor = actor
      meta.sig = `POST ${path}|${JSON.stringify(body)}`
      return fromApi(await api.post(path, body, { token, idempotencyKey: key ?? undefined }))
    }
    switch (op.t) {
      case 'login': {
        const r = await api.post('/api/auth/login', { code: `code-${openidOf(reg, op.user)}` })
        return fromApi(r)
      }
      case 'order': {
        meta.merchantId = reg.merchants.get(op.merchant)!.id
        const body = {
          merchantId: meta.merchantId,
          amountFen: op.amountFen,
          ...(op.redeem ? { redeemPoints: op.redeem } : {}),
        }
        return post('/api/orders', body, this.token(op.user), op.key, `u${op.user}`)
      }
      case 'pay': {
        const o = reg.orders.get(op.order)!
        const r = await control<any>(this.stack.sandbox, 'POST', '/pay', {
          outTradeNo: o.outTradeNo,
          deliver: op.deliver,
          duplicates: op.dups,
        })
        return { status: r.status, body: r.json, text: JSON.stringify(r.json), ...deliveriesOf(r.json) }
      }
      case 'poll': {
        const o = reg.orders.get(op.order)!
        return fromApi(await api.get(`/api/orders/${o.id}`, { token: this.token(o.user) }))
      }
      case 'refund': {
        const o = reg.orders.get(op.order)!
        const owner = reg.merchants.get(o.merchant)!
        const path = `/api/merchant/orders/${o.id}/refunds`
        return post(
          path,
          { amountFen: op.amountFen, reason: 'sim' },
          owner.ownerToken,
          op.key,
          `o${o.merchant}`,
        )
      }
      case 'refundDone': {
        const rf = reg.refunds.get(op.refund)!
        const r = await control<any>(this.stack.sandbox, 'POST', `/refunds/${rf.outRefundNo}/complete`, {
          status: op.result,
          deliver: op.deliver,
          duplicates: op.dups,
        })
        return { status: r.status, body: r.json, text: JSON.stringify(r.json), ...deliveriesOf(r.json) }
      }
      case 'grant': {
        const m = reg.merchants.get(op.merchant)!
        meta.userId = reg.users.get(op.user)!.id
        const body = { userId: meta.userId, points: op.points, reason: 'sim grant' }
        return post('/api/merchant/grants', body, m.ownerToken, op.key, `o${op.merchant}`)
      }
      case 'adjust': {
        meta.userId = reg.users.get(op.user)!.id
        const body = { userId: meta.userId, points: op.points, reason: 'sim adjust' }
        return post('/api/admin/adjustments', body, reg.adminToken, op.key, 'admin')
      }
      case 'gift':
        return post(
          '/api/points/gifts',
          { points: op.points, message: 'sim', count: op.count, split: op.split },
          this.token(op.user),
          op.key,
          `u${op.user}`,
        )
      case 'claim': {
        const g = reg.gifts.get(op.gift)!
        return fromApi(
          await api.post(`/api/points/gifts/${g.code}/claim`, undefined, { token: this.token(op.user) }),
        )
      }
      case 'cancel': {
        const g = reg.gifts.get(op.gift)!
        return fromApi(
          await api.post(`/api/points/gifts/${g.id}/cancel`, undefined, { token: this.token(op.user) }),
        )
      }
      case 'viewGift': {
        const g = reg.gifts.get(op.gift)!
        return fromApi(await api.get(`/api/points/gifts/${g.code}`, { token: this.token(op.user) }))
      }
      case 'balance':
        return fromApi(await api.get('/api/points/balance', { token: this.token(op.user) }))
      case 'rule': {
        const m = reg.merchants.get(op.merchant)!
        return fromApi(await api.put('/api/merchant/rule', op.rule, { token: m.ownerToken }))
      }
    }
  }

  private register(op: Op, obs: Obs) {
    const { reg } = this
    if (op.t === 'login' && obs.status === 200)
      reg.users.set(op.user, { openid: openidOf(reg, op.user), id: obs.body.user.id, token: obs.body.token })
    if (op.t === 'order' && obs.status === 201 && !reg.orders.has(op.grp))
      reg.orders.set(op.grp, {
        id: obs.body.id,
        outTradeNo: obs.body.outTradeNo,
        user: op.user,
        merchant: op.merchant,
      })
    if (op.t === 'refund' && obs.status === 202 && !reg.refunds.has(op.grp))
      reg.refunds.set(op.grp, {
        id: obs.body.id,
        outRefundNo: obs.body.outRefundNo,
        merchant: reg.orders.get(op.order)!.merchant,
      })
    if (op.t === 'gift' && obs.status === 201 && !reg.gifts.has(op.grp))
      reg.gifts.set(op.grp, { id: obs.body.id, code: obs.body.code, sender: op.user })
  }

  /** One read of the stack: every user's balance and the state of every `dirty` entity. */
  private async readOnce(dirty: Set<string>): Promise<Snapshot> {
    const { api, reg } = this
    const snap: Snapshot = {
      users: new Map(),
      orders: new Map(),
      refunds: new Map(),
      gifts: new Map(),
      expires: [],
      startedAt: Date.now(),
      endedAt: 0,
    }
    const tasks: Array<() => Promise<void>> = []
    const fail = (what: string, r: ApiResponse) => {
      throw new Error(`checkpoint read ${what} answered ${r.status} ${r.text.slice(0, 200)}`)
    }
    for (const [i, u] of reg.users) {
      if (!this.model.get(`user:${i}`)) continue
      tasks.push(async () => {
        const r = await api.get('/api/points/balance', { token: u.token })
        if (r.status !== 200) fail(`balance of user ${i}`, r)
        snap.users.set(i, r.body as UserView)
      })
    }
    // PENDING orders come from the merchant's list, which has no side effects; GET /api/orders/:id
    // would run the active query on them. Any other order is read by its payer.
    const orderKeys = [...dirty].filter((k) => kindOf(k) === 'order' && reg.orders.has(numOf(k)))
    const merchants = new Set(orderKeys.map((k) => reg.orders.get(numOf(k))!.merchant))
    const pending = new Map<string, any>()
    await Promise.all(
      [...merchants].map(async (m) => {
        let cursor: string | null = null
        do {
          const q: string = `/api/merchant/orders?status=PENDING&limit=100${cursor ? `&cursor=${cursor}` : ''}`
          const r = await api.get(q, { token: reg.merchants.get(m)!.ownerToken })
          if (r.status !== 200) fail(`pending orders of merchant ${m}`, r)
          for (const v of r.body.items) pending.set(v.id, v)
          cursor = r.body.nextCursor
        } while (cursor)
      }),
    )
    for (const key of orderKeys) {
      const o = reg.orders.get(numOf(key))!
      const listed = pending.get(o.id)
      if (listed) {
        snap.orders.set(key, listed)
        continue
      }
      tasks.push(async () => {
        const r = await api.get(`/api/orders/${o.id}`, { token: reg.users.get(o.user)!.token })
        if (r.status !== 200) fail(`order ${key}`, r)
        snap.orders.set(key, r.body)
      })
    }
    for (const key of dirty) {
      if (kindOf(key) === 'refund' && reg.refunds.has(numOf(key))) {
        const rf = reg.refunds.get(numOf(key))!
        tasks.push(async () => {
          const r = await api.get(`/api/merchant/refunds/${rf.id}`, {
            token: reg.merchants.get(rf.merchant)!.ownerToken,
          })
          if (r.status !== 200) fail(`refund ${key}`, r)
          snap.refunds.set(key, {
            status: r.body.status,
            pointsClawedBack: r.body.pointsClawedBack,
            amountFen: r.body.amountFen,
          })
        })
      }
      if (kindOf(key) === 'gift' && reg.gifts.has(numOf(key))) {
        const g = reg.gifts.get(numOf(key))!
        tasks.push(async () => {
          const r = await api.get(`/api/points/gifts/${g.code}`, { token: reg.users.get(g.sender)!.token })
          if (r.status !== 200) fail(`gift ${key}`, r)
          snap.gifts.set(key, { status: r.body.status, points: r.body.points })
        })
      }
    }
    await pool(tasks, 8)
    snap.expires = await this.expireRecords()
    snap.endedAt = Date.now()
    return snap
  }

  /** The stack's EXPIRE records of the simulator's users, read from the database (there is no API for all). */
  private async expireRecords(): Promise<Snapshot['expires']> {
    const userOf = new Map([...this.reg.users].map(([i, u]) => [Number(u.id), i]))
    const [rows] = await this.stack.db.primary.execute(
      sql`SELECT e.id, a.owner_id AS ownerId, -e.delta AS points, e.created_at AS createdAt
          FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
          WHERE e.kind = 'EXPIRE' AND a.kind = 'USER' ORDER BY e.id`,
    )
    const out: Snapshot['expires'] = []
    for (const r of rows as unknown as Array<{
      id: number
      ownerId: number
      points: number
      createdAt: Date
    }>) {
      const user = userOf.get(Number(r.ownerId))
      if (user === undefined) continue
      out.push({ id: Number(r.id), user, points: Number(r.points), atMs: new Date(r.createdAt).getTime() })
    }
    return out
  }

  /**
   * A consistent snapshot: read twice and accept when both reads agree. The stack's own jobs may
   * change things between reads; every such change is monotone (a status only moves forward), so
   * two equal reads mean nothing changed while they ran.
   */
  async snapshot(dirty: Set<string>): Promise<Snapshot> {
    let last = await this.readOnce(dirty)
    for (let attempt = 0; attempt < 20; attempt++) {
      const again = await this.readOnce(dirty)
      if (sameSnapshot(last, again)) return { ...again, startedAt: last.startedAt }
      last = again
    }
    throw new Error('checkpoint: the stack never held still for two reads in a row')
  }

  /** Model keys the checkpoint must read besides users: the batch's, and those with open states. */
  dirtyKeys(footprints: string[][]): Set<string> {
    const dirty = new Set<string>()
    for (const keys of footprints)
      for (const k of keys) if (['order', 'refund', 'gift'].includes(kindOf(k))) dirty.add(k)
    for (const k of this.model.orders) if (this.model.get<OrderE>(k)!.status === 'PENDING') dirty.add(k)
    for (const k of this.model.gifts) if (this.model.get<GiftE>(k)!.status === 'PENDING') dirty.add(k)
    for (const k of this.model.refunds) {
      const r = this.model.get<RefundE>(k)!
      if (r.status === 'PROCESSING' && r.wx !== 'PROCESSING') dirty.add(k)
    }
    return dirty
  }
}

function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
  const flat = (s: Snapshot) =>
    JSON.stringify([
      [...s.users.entries()].sort(([x], [y]) => x - y),
      [...s.orders.entries()].sort(),
      [...s.refunds.entries()].sort(),
      [...s.gifts.entries()].sort(),
      s.expires.length,
    ])
  return flat(a) === flat(b)
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pool(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++
      await tasks[i]!()
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker))
}
