/**
 * A seeded generator of operation batches. It looks at the model (what exists, what state it is
 * in) to pick useful operations — pay pending orders, refund paid ones, claim pending gifts — and
 * deliberately produces the awkward cases: duplicate and concurrent requests with one
 * Idempotency-Key, replays and reuses of old keys, duplicate / lost / late payment notifications,
 * partial and full refunds with duplicate or lost results, claim races on one gift, gifts right at
 * their expiry, rule changes while orders are in flight, payments racing the daily cap.
 *
 * Generation only reads the model, so a replay never needs it: the operation log is enough.
 */
import type { GiftE, Model, OrderE, RefundE, Rule, UserE } from './model.ts'
import { mKey, uKey } from './model.ts'
import type { Op } from './ops.ts'

export class Rng {
  private s: number
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9
  }
  /** mulberry32 */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0
    let t = this.s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!
  }
  weighted<T>(entries: Array<[T, number]>): T {
    const total = entries.reduce((s, [, w]) => s + w, 0)
    let r = this.next() * total
    for (const [v, w] of entries) {
      r -= w
      if (r < 0) return v
    }
    return entries[entries.length - 1]![0]
  }
}

export interface GenConfig {
  batchSize: number
  maxUsers: number
}

export function randomRule(rng: Rng): Rule {
  return {
    earnPoints: rng.weighted([
      [0, 1],
      [1, 6],
      [2, 3],
      [5, 2],
    ]),
    perFen: rng.pick([1, 7, 100, 100, 250, 1000]),
    minOrderFen: rng.pick([0, 0, 0, 100, 1000]),
    maxPointsPerOrder: rng.chance(0.6) ? null : rng.pick([10, 50, 200, 1000]),
    dailyCapPerUser: rng.chance(0.5) ? null : rng.pick([20, 100, 500, 2000]),
    redeemFenPerPoint: rng.chance(0.3) ? null : rng.pick([1, 1, 5, 100]),
    redeemMaxPercent: rng.pick([100, 100, 50, 10]),
  }
}

type Kind =
  | 'login'
  | 'order'
  | 'orderReplay'
  | 'keyReuse'
  | 'pay'
  | 'redeliver'
  | 'poll'
  | 'refund'
  | 'refundDone'
  | 'grant'
  | 'adjust'
  | 'gift'
  | 'claim'
  | 'cancel'
  | 'viewGift'
  | 'balance'
  | 'rule'

export class Generator {
  private n: number
  private nextUser: number
  /** Keyed creates of earlier batches, for replays and key reuse. */
  private past: Array<Extract<Op, { t: 'order' | 'gift' | 'refund' | 'grant' | 'adjust' }>> = []

  constructor(
    readonly rng: Rng,
    readonly model: Model,
    readonly cfg: GenConfig,
    readonly keyPrefix: string,
    firstOp = 1,
  ) {
    this.n = firstOp
    this.nextUser = Math.max(0, ...model.users) + 1
  }

  private key(): string {
    return `${this.keyPrefix}${this.n.toString(36)}`
  }

  /** Points to redeem on an order, around the user's balance (too many is a case too); often none. */
  private redeem(user: number): number | undefined {
    if (!this.rng.chance(0.35)) return undefined
    const balance = Math.max(0, this.model.get<UserE>(uKey(user))?.balance ?? 0)
    return this.rng.weighted<() => number>([
      [() => this.rng.int(1, 20), 3],
      [() => Math.max(1, Math.floor(balance / 3)), 3],
      [() => Math.max(1, balance), 2],
      [() => balance + 1, 1],
    ])()
  }

  private amount(merchant: number): number {
    const rule = this.model.get<{ k: 'merchant'; rule: Rule }>(mKey(merchant))!.rule
    return this.rng.weighted<() => number>([
      [() => this.rng.int(1, 99), 2],
      [() => this.rng.int(100, 5000), 6],
      [() => this.rng.int(1, 50) * rule.perFen, 3],
      [() => Math.max(1, rule.minOrderFen - 1), 1],
      [() => Math.max(1, rule.minOrderFen), 1],
      [() => this.rng.int(5000, 100_000), 2],
      [() => 0, 0.2],
    ])()
  }

  /** Sometimes aim a claim or cancel at the gift's expiry, before the expiry job gets to it. */
  private atExpiry(g: GiftE, now: number): { atExpiry?: number } {
    const soon = g.expiresAtMs - now < 3_500
    return soon && this.rng.chance(0.3) ? { atExpiry: this.rng.int(-40, 60) } : {}
  }

  batch(now: number): Op[] {
    const { rng, model } = this
    const ops: Op[] = []
    const ruleChanged = new Set<number>()
    const orderedAt = new Set<number>()
    const users = model.users.filter((u) => model.get<UserE>(uKey(u)))
    const orders = model.orders.map((k) => [Number(k.slice(6)), model.get<OrderE>(k)!] as const)
    const open = orders.filter(([, o]) => o.wx === 'NOTPAY' && o.expiresAtMs > now + 1500)
    const lost = orders.filter(([, o]) => o.wx === 'SUCCESS' && o.status === 'PENDING')
    const paid = orders.filter(([, o]) => o.status === 'PAID' || o.status === 'PARTIALLY_REFUNDED')
    const refunds = model.refunds.map((k) => [Number(k.slice(7)), model.get<RefundE>(k)!] as const)
    const processing = refunds.filter(([, r]) => r.wx === 'PROCESSING')
    const gifts = model.gifts.map((k) => [Number(k.slice(5)), model.get<GiftE>(k)!] as const)
    const pendingGifts = gifts.filter(([, g]) => g.status === 'PENDING')
    const recent = <T>(list: readonly T[], n = 40) => list.slice(-n)

    const add = (op: Op) => {
      ops.push(op)
      this.n++
    }
    const dups = () => (rng.chance(0.25) ? rng.int(2, 3) : 1)
    const weights: Array<[Kind, number]> = [
      ['login', users.length < this.cfg.maxUsers ? 3 : 0.3],
      ['order', 14],
      ['orderReplay', this.past.length ? 2 : 0],
      ['keyReuse', this.past.length ? 1 : 0],
      ['pay', orders.length ? 16 : 0],
      ['redeliver', lost.length ? 4 : 0],
      ['poll', orders.length ? 6 : 0],
      ['refund', paid.length ? 8 : 0],
      ['refundDone', processing.length ? 8 : refunds.length ? 0.5 : 0],
      ['grant', 6],
      ['adjust', 4],
      ['gift', 10],
      ['claim', pendingGifts.length ? 10 : 0],
      ['cancel', pendingGifts.length ? 4 : 0],
      ['viewGift', gifts.length ? 2 : 0],
      ['balance', 3],
      ['rule', 1.5],
    ]

    while (ops.length < this.cfg.batchSize) {
      const kind = rng.weighted(weights)
      switch (kind) {
        case 'login': {
          const fresh = users.length < this.cfg.maxUsers && rng.chance(0.9)
          add({ t: 'login', n: this.n, user: fresh ? this.nextUser++ : rng.pick(users) })
          break
        }
        case 'order': {
          const merchants = model.merchants.filter((m) => !ruleChanged.has(m))
          if (!merchants.length || !users.length) break
          const merchant = rng.pick(merchants)
          orderedAt.add(merchant)
          const user = rng.pick(users)
          const amountFen = this.amount(merchant)
          const redeem = this.redeem(user)
          const keyed = rng.chance(0.95)
          const key = keyed ? this.key() : null
          const grp = this.n
          for (let i = 0, k = keyed ? dups() : 1; i < k; i++)
            add({ t: 'order', n: this.n, grp, user, merchant, amountFen, key, ...(redeem ? { redeem } : {}) })
          break
        }
        case 'orderReplay': {
          const first = rng.pick(this.past)
          // A replay whose first attempt was not recorded runs afresh and reads the rule.
          if (first.t === 'order' && ruleChanged.has(first.merchant)) break
          if (first.t === 'order') orderedAt.add(first.merchant)
          add({ ...first, n: this.n })
          break
        }
        case 'keyReuse': {
          const first = rng.pick(this.past)
          if (first.t === 'order' && ruleChanged.has(first.merchant)) break
          if (first.t === 'order') orderedAt.add(first.merchant)
          // Same key, another body: 409 IDEMPOTENCY_KEY_REUSED if the first was recorded.
          if (first.t === 'order') add({ ...first, n: this.n, grp: this.n, amountFen: first.amountFen + 1 })
          else if (first.t === 'gift') add({ ...first, n: this.n, grp: this.n, points: first.points + 1 })
          else if (first.t === 'grant') add({ ...first, n: this.n, points: first.points + 1 })
          else if (first.t === 'adjust')
            add({ ...first, n: this.n, points: first.points + (first.points > 0 ? 1 : -1) })
          else add({ ...first, n: this.n, grp: this.n, amountFen: first.amountFen + 1 })
          break
        }
        case 'pay': {
          const pool = open.length && rng.chance(0.85) ? open : recent(orders)
          const [order] = rng.pick(pool)
          const mode = rng.weighted<[boolean, number]>([
            [[true, 1], 55],
            [[true, rng.int(2, 6)], 25],
            [[false, 1], 20],
          ])
          add({ t: 'pay', n: this.n, order, deliver: mode[0], dups: mode[1] })
          break
        }
        case 'redeliver': {
          const [order] = rng.pick(lost)
          add({ t: 'pay', n: this.n, order, deliver: true, dups: rng.int(1, 3) })
          break
        }
        case 'poll': {
          const pool = lost.length && rng.chance(0.5) ? lost : recent(orders)
          add({ t: 'poll', n: this.n, order: rng.pick(pool)[0] })
          break
        }
        case 'refund': {
          const [order, o] = rng.chance(0.9) ? rng.pick(paid) : rng.pick(recent(orders))
          const left = Math.max(0, o.amountFen - o.refundedFen - o.refundingFen)
          const amountFen = rng.weighted<() => number>([
            [() => Math.max(1, left), 3],
            [() => rng.int(1, Math.max(1, left)), 5],
            [() => left + rng.int(1, 100), 1],
          ])()
          const keyed = rng.chance(0.9)
          const key = keyed ? this.key() : null
          const grp = this.n
          for (let i = 0, k = keyed ? dups() : 1; i < k; i++)
            add({ t: 'refund', n: this.n, grp, order, amountFen, key })
          break
        }
        case 'refundDone': {
          const [refund] = processing.length ? rng.pick(processing) : rng.pick(refunds)
          add({
            t: 'refundDone',
            n: this.n,
            refund,
            result: rng.chance(0.75) ? 'SUCCESS' : 'CLOSED',
            deliver: rng.chance(0.85),
            dups: rng.chance(0.3) ? rng.int(2, 5) : 1,
          })
          break
        }
        case 'grant': {
          if (!users.length) break
          const user = rng.pick(users)
          const points = rng.weighted<() => number>([
            [() => rng.int(1, 100), 5],
            [() => rng.int(100, 5000), 2],
          ])()
          const merchant = rng.pick(model.merchants)
          const key = rng.chance(0.9) ? this.key() : null
          for (let i = 0, k = key ? dups() : 1; i < k; i++)
            add({ t: 'grant', n: this.n, merchant, user, points, key })
          break
        }
        case 'adjust': {
          if (!users.length) break
          const user = rng.pick(users)
          const bal = model.get<UserE>(uKey(user))!.balance
          const points = rng.chance(0.5)
            ? rng.int(1, 300)
            : -rng.int(1, Math.max(2, rng.chance(0.8) ? bal : bal + 100))
          const key = rng.chance(0.9) ? this.key() : null
          for (let i = 0, k = key ? dups() : 1; i < k; i++) add({ t: 'adjust', n: this.n, user, points, key })
          break
        }
        case 'gift': {
          if (!users.length) break
          const user = rng.pick(users)
          const bal = model.get<UserE>(uKey(user))!.balance
          const points = rng.chance(0.85) ? rng.int(1, Math.max(1, Math.min(bal, 500))) : bal + rng.int(1, 50)
          const key = rng.chance(0.7) ? this.key() : null
          const grp = this.n
          const total = Math.max(1, points)
          // A third are group gifts (API.md §14), so several claimers race for their shares.
          const count = rng.chance(0.35) ? rng.int(1, Math.min(total, 5)) : 1
          const split = rng.chance(0.5) ? 'random' : 'even'
          for (let i = 0, k = key ? dups() : 1; i < k; i++)
            add({ t: 'gift', n: this.n, grp, user, points: total, count, split, key })
          break
        }
        case 'claim': {
          const [gift, g] = rng.pick(pendingGifts)
          const others = users.filter((u) => u !== g.sender)
          const storm = rng.chance(0.3) ? rng.int(2, 4) : 1
          const atExpiry = this.atExpiry(g, now)
          for (let i = 0; i < storm; i++) {
            const user = !others.length || rng.chance(0.05) ? g.sender : rng.pick(others)
            add({ t: 'claim', n: this.n, gift, user, ...atExpiry })
          }
          if (storm > 1 && rng.chance(0.3)) add({ t: 'cancel', n: this.n, gift, user: g.sender, ...atExpiry })
          break
        }
        case 'cancel': {
          const [gift, g] = rng.pick(pendingGifts)
          const user = rng.chance(0.9) ? g.sender : rng.pick(users)
          add({ t: 'cancel', n: this.n, gift, user, ...this.atExpiry(g, now) })
          break
        }
        case 'viewGift': {
          const [gift] = rng.pick(recent(gifts))
          add({ t: 'viewGift', n: this.n, gift, user: rng.pick(users) })
          break
        }
        case 'balance':
          if (users.length) add({ t: 'balance', n: this.n, user: rng.pick(users) })
          break
        case 'rule': {
          const merchants = model.merchants.filter((m) => !orderedAt.has(m) && !ruleChanged.has(m))
          if (!merchants.length) break
          const merchant = rng.pick(merchants)
          ruleChanged.add(merchant)
          add({ t: 'rule', n: this.n, merchant, rule: randomRule(rng) })
          break
        }
      }
    }
    for (const op of ops) {
      if ((op.t === 'order' || op.t === 'gift' || op.t === 'refund') && op.key && op.n === op.grp)
        this.past.push(op)
      if ((op.t === 'grant' || op.t === 'adjust') && op.key) this.past.push(op)
    }
    if (this.past.length > 200) this.past.splice(0, this.past.length - 200)
    // Interleave: the batch runs with a bounded pool, so position decides what overlaps.
    for (let i = ops.length - 1; i > 0; i--) {
      const j = rng.int(0, i)
      ;[ops[i], ops[j]] = [ops[j]!, ops[i]!]
    }
    return ops
  }
}
