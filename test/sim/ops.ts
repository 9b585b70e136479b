/**
 * The simulator's operations: what each one is (plain JSON, so an operation log can be stored and
 * replayed), which model entities it may touch (its footprint, for partitioning the checker's
 * search), and how the model judges one observed execution of it (its step).
 *
 * A step gets the state at the operation's linearization point and the observed answer. It returns
 * null and updates the state if the answer is legal there, or a reason why it is not. Whatever
 * depends on timing (expiry) is judged against the operation's real-time interval [inv, resp].
 */
import {
  applyPayment,
  claimShare,
  closeOrder,
  discountFor,
  dKey,
  endGift,
  type GiftE,
  giftRemaining,
  gKey,
  type IdemE,
  iKey,
  type MerchantE,
  mKey,
  move,
  nextShare,
  type OrderE,
  oKey,
  orderPoints,
  type RefundE,
  type Rule,
  rKey,
  settleRefund,
  type UserE,
  uKey,
  type WorkState,
} from './model.ts'

export type Op =
  | { t: 'login'; n: number; user: number }
  | {
      t: 'order'
      n: number
      grp: number
      user: number
      merchant: number
      amountFen: number
      /** Points to pay part of it with (API.md §14); absent: none. */
      redeem?: number
      key: string | null
    }
  | { t: 'pay'; n: number; order: number; deliver: boolean; dups: number }
  | { t: 'poll'; n: number; order: number }
  | { t: 'refund'; n: number; grp: number; order: number; amountFen: number; key: string | null }
  | {
      t: 'refundDone'
      n: number
      refund: number
      result: 'SUCCESS' | 'CLOSED'
      deliver: boolean
      dups: number
    }
  | { t: 'grant'; n: number; merchant: number; user: number; points: number; key: string | null }
  | { t: 'adjust'; n: number; user: number; points: number; key: string | null }
  | {
      t: 'gift'
      n: number
      grp: number
      user: number
      points: number
      /** Shares (API.md §14); the generator keeps 1 ≤ count ≤ points. */
      count: number
      split: 'even' | 'random'
      key: string | null
    }
  /** `atExpiry`: sent this many ms after the gift's expiry instead of at once (races the expiry job). */
  | { t: 'claim'; n: number; gift: number; user: number; atExpiry?: number }
  | { t: 'cancel'; n: number; gift: number; user: number; atExpiry?: number }
  | { t: 'viewGift'; n: number; gift: number; user: number }
  | { t: 'balance'; n: number; user: number }
  | { t: 'rule'; n: number; merchant: number; rule: Rule }

export interface Obs {
  status: number
  body: any
  text: string
  /** Sandbox deliveries: whether any copy's first delivery attempt got a 2xx. */
  firstOk?: boolean
  /** Sandbox deliveries: the first attempt's status (or error) of each copy. */
  attempts?: Array<number | string>
}

export interface Exec {
  op: Op
  inv: number
  resp: number
  obs: Obs
  /** Facts the driver resolved when it sent the request (server ids, the idempotency signature). */
  meta: { sig?: string; actor?: string; merchantId?: string; userId?: string; orderEntity?: string }
}

export interface StepConfig {
  giftTtlMs: number
  orderTtlMs: number
}

/** Slack for comparing instants taken in different processes of one machine (same clock). */
export const SLOP_MS = 25

const canon = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canon(x)}`).join(',')}}`
  }
  return JSON.stringify(v)
}

const errCode = (o: Obs): string | undefined => o.body?.error?.code

function expectError(o: Obs, status: number, code: string): string | null {
  if (o.status === status && errCode(o) === code) return null
  return `expected ${status} ${code}, got ${o.status} ${o.text.slice(0, 160)}`
}

function expectStatus(o: Obs, status: number): string | null {
  return o.status === status ? null : `expected ${status}, got ${o.status} ${o.text.slice(0, 160)}`
}

/** An [idem] write: replay a recorded key, refuse it for another body, else run `fresh` and record. */
function idempotent(
  st: WorkState,
  x: Exec,
  key: string | null,
  fresh: () => string | null,
  success: (status: number) => boolean,
): string | null {
  const ik = key ? iKey(x.meta.actor!, key) : null
  if (ik) {
    const rec = st.get<IdemE>(ik)
    if (rec) {
      if (rec.sig !== x.meta.sig) return expectError(x.obs, 409, 'IDEMPOTENCY_KEY_REUSED')
      if (x.obs.status !== rec.status || canon(x.obs.body) !== rec.body) {
        return `replay of key ${key} answered ${x.obs.status} ${x.obs.text.slice(0, 200)}; first answer was ${rec.status} ${rec.body.slice(0, 200)}`
      }
      return null
    }
  }
  const err = fresh()
  if (err) return err
  if (ik && success(x.obs.status)) {
    st.set(ik, { k: 'idem', sig: x.meta.sig!, status: x.obs.status, body: canon(x.obs.body) })
  }
  return null
}

function withinTtl(iso: unknown, x: Exec, ttlMs: number): string | null {
  const at = typeof iso === 'string' ? Date.parse(iso) : Number.NaN
  if (Number.isNaN(at)) return `expiresAt ${String(iso)} is not a time`
  if (at < x.inv + ttlMs - 1000 || at > x.resp + ttlMs + 1000)
    return `expiresAt ${String(iso)} is not about ${ttlMs} ms after the request`
  return null
}

export function compareOrderView(o: OrderE, v: any): string | null {
  const want = {
    status: o.status,
    pointsAwarded: o.awarded,
    refundedFen: o.refundedFen,
    amountFen: o.amountFen,
    redeemPoints: o.redeemPoints,
    payableFen: o.payableFen,
    paidAt: o.paidAt,
  }
  const got = {
    status: v?.status,
    pointsAwarded: v?.pointsAwarded,
    refundedFen: v?.refundedFen,
    amountFen: v?.amountFen,
    redeemPoints: v?.redeemPoints,
    payableFen: v?.payableFen,
    paidAt: v?.paidAt ?? null,
  }
  return canon(want) === canon(got) ? null : `order view ${canon(got)}, model ${canon(want)}`
}

/** Footprint: every model key the op may read or write. `st` is the state before the batch. */
export function footprint(op: Op, st: WorkState, meta: Exec['meta']): string[] {
  const order = (n: number) => st.get<OrderE>(oKey(n))
  const idem = (key: string | null) => (key && meta.actor ? [iKey(meta.actor, key)] : [])
  switch (op.t) {
    case 'login':
      return [uKey(op.user)]
    case 'order':
      return [uKey(op.user), mKey(op.merchant), oKey(op.grp), ...idem(op.key)]
    case 'pay':
    case 'poll': {
      const o = order(op.order)!
      return [oKey(op.order), uKey(o.user), dKey(o.user, o.merchant)]
    }
    case 'refund':
      return [oKey(op.order), rKey(op.grp), ...idem(op.key)]
    case 'refundDone': {
      const r = st.get<RefundE>(rKey(op.refund))!
      const o = st.get<OrderE>(r.order)!
      return [rKey(op.refund), r.order, uKey(o.user)]
    }
    case 'grant':
    case 'adjust':
    case 'balance':
      return [uKey(op.user), ...('key' in op ? idem(op.key) : [])]
    case 'gift':
      return [uKey(op.user), gKey(op.grp), ...idem(op.key)]
    case 'claim':
    case 'cancel':
    case 'viewGift': {
      const g = st.get<GiftE>(gKey(op.gift))!
      return [gKey(op.gift), uKey(g.sender), uKey(op.user)]
    }
    case 'rule':
      return [mKey(op.merchant)]
  }
}

/** Judges one observed execution at its linearization point; mutates `st` when legal. */
export function step(st: WorkState, x: Exec, cfg: StepConfig): string | null {
  const { op, obs } = x
  switch (op.t) {
    case 'login': {
      if (obs.status !== 200) return expectStatus(obs, 200)
      if (!st.get(uKey(op.user))) st.set(uKey(op.user), { k: 'user', balance: 0, earned: 0, entries: 0 })
      return null
    }

    case 'order':
      return idempotent(
        st,
        x,
        op.key,
        () => {
          if (!Number.isInteger(op.amountFen) || op.amountFen < 1 || op.amountFen > 1_000_000_000)
            return expectError(obs, 400, 'VALIDATION_FAILED')
          const m = st.must<MerchantE>(mKey(op.merchant))
          const redeemPoints = op.redeem ?? 0
          const discountFen = redeemPoints > 0 ? discountFor(m.rule, op.amountFen, redeemPoints) : 0
          if (discountFen === null) return expectError(obs, 422, 'REDEEM_NOT_ALLOWED')
          if (redeemPoints > 0 && st.must<UserE>(uKey(op.user)).balance < redeemPoints)
            return expectError(obs, 422, 'INSUFFICIENT_POINTS')
          if (obs.status !== 201) return expectStatus(obs, 201)
          const b = obs.body
          const payableFen = op.amountFen - discountFen
          if (b.redeemPoints !== redeemPoints || b.discountFen !== discountFen || b.payableFen !== payableFen)
            return `redemption answered ${b.redeemPoints}/${b.discountFen}/${b.payableFen}, model ${redeemPoints}/${discountFen}/${payableFen}`
          const expected = orderPoints(m.rule, payableFen)
          if (b.status !== 'PENDING' || b.amountFen !== op.amountFen || b.merchantId !== x.meta.merchantId)
            return `order answer ${obs.text.slice(0, 200)} does not describe the request`
          if (b.expectedPoints !== expected)
            return `expectedPoints ${b.expectedPoints}, model ${expected} (rule ${JSON.stringify(m.rule)})`
          const ttl = withinTtl(b.expiresAt, x, cfg.orderTtlMs)
          if (ttl) return ttl
          if (st.get(oKey(op.grp))) return `order ${op.grp} created twice`
          if (redeemPoints > 0) move(st, op.user, -redeemPoints, false)
          st.set(oKey(op.grp), {
            k: 'order',
            user: op.user,
            merchant: op.merchant,
            amountFen: op.amountFen,
            redeemPoints,
            discountFen,
            payableFen,
            redeemReturned: 0,
            rule: m.rule,
            status: 'PENDING',
            awarded: 0,
            refundedFen: 0,
            refundingFen: 0,
            clawed: 0,
            wx: 'NOTPAY',
            successTime: null,
            paidAt: null,
            expiresAtMs: Date.parse(b.expiresAt),
          })
          return null
        },
        (s) => s === 201,
      )

    case 'pay': {
      const key = oKey(op.order)
      const o = st.must<OrderE>(key)
      // The sandbox compares time_expire (whole seconds, rounded down) with its clock. The origin
      // keeps WeChat's order open at least two minutes after creation and closes it there once
      // it expires locally, so a payment may be taken until that close.
      const sandboxExpiry = Math.floor(o.expiresAtMs / 1000) * 1000
      const wxExpiry = Math.max(o.expiresAtMs, o.expiresAtMs - cfg.orderTtlMs + 120_000)
      if (o.wx === 'CLOSED') return obs.status === 409 ? null : `paying a closed order answered ${obs.status}`
      if (o.wx === 'NOTPAY') {
        if (obs.status === 409) {
          return x.resp >= sandboxExpiry - SLOP_MS ? null : 'payment refused before the order expired'
        }
        if (obs.status !== 200) return expectStatus(obs, 200)
        if (x.inv > wxExpiry + 1000 + SLOP_MS) return 'the sandbox took a payment after time_expire'
        st.set(key, { ...o, wx: 'SUCCESS', successTime: obs.body.transaction.success_time })
      } else {
        if (obs.status !== 200) return expectStatus(obs, 200)
        if (obs.body.transaction.success_time !== o.successTime) return 'success_time changed'
      }
      if (op.deliver && obs.firstOk) applyPayment(st, key)
      return null
    }

    case 'poll': {
      const key = oKey(op.order)
      const o = st.must<OrderE>(key)
      if (obs.status !== 200) return expectStatus(obs, 200)
      const v = obs.body
      if (o.status === 'PENDING') {
        // The active query may settle the order; PENDING stays legal (young order, query throttled).
        if (v.status === 'PAID' && o.wx === 'SUCCESS') applyPayment(st, key)
        else if (v.status === 'CLOSED' && o.wx === 'NOTPAY' && x.resp >= o.expiresAtMs - SLOP_MS)
          closeOrder(st, key)
      }
      return compareOrderView(st.must<OrderE>(key), v)
    }

    case 'refund':
      return idempotent(
        st,
        x,
        op.key,
        () => {
          const key = oKey(op.order)
          const o = st.must<OrderE>(key)
          if (o.status !== 'PAID' && o.status !== 'PARTIALLY_REFUNDED')
            return expectError(obs, 409, 'INVALID_STATE')
          const refundable = o.payableFen - o.refundedFen - o.refundingFen
          if (op.amountFen > refundable) return expectError(obs, 422, 'REFUND_EXCEEDS_PAID')
          if (obs.status !== 202) return expectStatus(obs, 202)
          if (obs.body.status !== 'PROCESSING' || obs.body.amountFen !== op.amountFen)
            return `refund answer ${obs.text.slice(0, 200)}`
          if (st.get(rKey(op.grp))) return `refund ${op.grp} created twice`
          st.set(rKey(op.grp), {
            k: 'refund',
            order: key,
            amountFen: op.amountFen,
            status: 'PROCESSING',
            clawed: 0,
            wx: 'PROCESSING',
          })
          st.set(key, { ...o, refundingFen: o.refundingFen + op.amountFen })
          return null
        },
        (s) => s === 202,
      )

    case 'refundDone': {
      const key = rKey(op.refund)
      const r = st.must<RefundE>(key)
      if (r.wx !== 'PROCESSING')
        return obs.status === 409 ? null : `completing a finished refund answered ${obs.status}`
      if (obs.status !== 200) return expectStatus(obs, 200)
      st.set(key, { ...r, wx: op.result })
      if (op.deliver && obs.firstOk) settleRefund(st, key, op.result)
      return null
    }

    case 'grant':
      return idempotent(
        st,
        x,
        op.key,
        () => {
          if (obs.status !== 201) return expectStatus(obs, 201)
          if (obs.body.points !== op.points || obs.body.userId !== x.meta.userId)
            return `grant answer ${obs.text.slice(0, 200)}`
          move(st, op.user, op.points, true)
          return null
        },
        (s) => s === 201,
      )

    case 'adjust':
      return idempotent(
        st,
        x,
        op.key,
        () => {
          const u = st.must<UserE>(uKey(op.user))
          if (op.points < 0 && u.balance + op.points < 0) return expectError(obs, 422, 'INSUFFICIENT_POINTS')
          if (obs.status !== 201) return expectStatus(obs, 201)
          const after = move(st, op.user, op.points, false)
          if (obs.body.balance !== after.balance)
            return `adjustment answered balance ${obs.body.balance}, model ${after.balance}`
          return null
        },
        (s) => s === 201,
      )

    case 'gift':
      return idempotent(
        st,
        x,
        op.key,
        () => {
          const u = st.must<UserE>(uKey(op.user))
          if (u.balance < op.points) return expectError(obs, 422, 'INSUFFICIENT_POINTS')
          if (obs.status !== 201) return expectStatus(obs, 201)
          const b = obs.body
          if (
            b.points !== op.points ||
            b.status !== 'PENDING' ||
            b.count !== op.count ||
            b.split !== op.split ||
            b.claimedCount !== 0 ||
            b.remainingPoints !== op.points
          )
            return `gift answer ${obs.text.slice(0, 200)}`
          const ttl = withinTtl(obs.body.expiresAt, x, cfg.giftTtlMs)
          if (ttl) return ttl
          if (st.get(gKey(op.grp))) return `gift ${op.grp} created twice`
          move(st, op.user, -op.points, false)
          st.set(gKey(op.grp), {
            k: 'gift',
            sender: op.user,
            points: op.points,
            status: 'PENDING',
            claimedBy: null,
            expiresAtMs: Date.parse(obs.body.expiresAt),
            count: op.count,
            split: op.split,
            claims: [],
          })
          return null
        },
        (s) => s === 201,
      )

    case 'claim':
    case 'cancel': {
      const key = gKey(op.gift)
      const g = st.must<GiftE>(key)
      if (op.t === 'cancel' && op.user !== g.sender) return expectError(obs, 404, 'NOT_FOUND')
      if (g.status === 'CLAIMED') return expectError(obs, 409, 'GIFT_ALREADY_CLAIMED')
      if (g.status === 'EXPIRED') return expectError(obs, 410, 'GIFT_EXPIRED')
      if (g.status === 'CANCELLED') return expectError(obs, 409, 'INVALID_STATE')
      if (obs.status === 410) {
        if (x.resp < g.expiresAtMs - SLOP_MS) return 'GIFT_EXPIRED before the gift expired'
        const err = expectError(obs, 410, 'GIFT_EXPIRED')
        if (err) return err
        endGift(st, key, 'EXPIRED')
        return null
      }
      if (x.inv > g.expiresAtMs + SLOP_MS) return `${op.t} answered ${obs.status} after the gift expired`
      if (op.t === 'claim' && op.user === g.sender) return expectError(obs, 422, 'CANNOT_CLAIM_OWN_GIFT')
      if (op.t === 'claim' && g.claims.some((c) => c.user === op.user))
        return expectError(obs, 409, 'GIFT_ALREADY_CLAIMED')
      if (obs.status !== 200) return expectStatus(obs, 200)
      let u: UserE
      if (op.t === 'claim') {
        const { min, max } = nextShare(g)
        const share = obs.body.share
        if (!Number.isInteger(share) || share < min || share > max)
          return `claim answered share ${share}, model ${min}..${max}`
        u = claimShare(st, key, op.user, share)
      } else u = endGift(st, key, 'CANCELLED')
      const after = st.must<GiftE>(key)
      const gift = obs.body.gift
      if (
        gift?.status !== after.status ||
        gift.claimedCount !== after.claims.length ||
        gift.remainingPoints !== (after.status === 'PENDING' ? giftRemaining(after) : 0)
      )
        return `${op.t} answered gift ${canon(gift)}, model ${after.status} with ${after.claims.length} claims`
      if (obs.body.balance !== u.balance)
        return `${op.t} answered balance ${obs.body.balance}, model ${u.balance}`
      return null
    }

    case 'viewGift': {
      const g = st.must<GiftE>(gKey(op.gift))
      if (obs.status !== 200) return expectStatus(obs, 200)
      // An overdue PENDING gift is shown EXPIRED before anything settles it.
      const overdue =
        g.status === 'PENDING' && obs.body.status === 'EXPIRED' && x.resp >= g.expiresAtMs - SLOP_MS
      const pending =
        g.status === 'PENDING' && obs.body.status === 'PENDING' && x.inv < g.expiresAtMs + SLOP_MS
      const settled = g.status !== 'PENDING' && obs.body.status === g.status
      if (!(overdue || pending || settled) || obs.body.points !== g.points)
        return `gift view ${obs.body.status}/${obs.body.points}, model ${g.status}/${g.points}`
      if (obs.body.claimedCount !== g.claims.length)
        return `gift view ${obs.body.claimedCount} claims, model ${g.claims.length}`
      return null
    }

    case 'balance': {
      const u = st.must<UserE>(uKey(op.user))
      if (obs.status !== 200) return expectStatus(obs, 200)
      // balance and totalEarned are one row; heldInGifts is a second query, checked at checkpoints.
      if (obs.body.balance !== u.balance || obs.body.totalEarned !== u.earned)
        return `balance ${obs.body.balance}/${obs.body.totalEarned}, model ${u.balance}/${u.earned}`
      return null
    }

    case 'rule': {
      if (obs.status !== 200) return expectStatus(obs, 200)
      // Logs from before redemption carry rules without its fields: the defaults apply.
      const rule: Rule = {
        ...op.rule,
        redeemFenPerPoint: op.rule.redeemFenPerPoint ?? null,
        redeemMaxPercent: op.rule.redeemMaxPercent ?? 100,
      }
      if (canon(obs.body.rule) !== canon(rule)) return `rule answered ${canon(obs.body.rule)}`
      st.set(mKey(op.merchant), { k: 'merchant', rule })
      return null
    }
  }
}

export function describeOp(op: Op): string {
  const { t, n, ...rest } = op
  return `#${n} ${t} ${JSON.stringify(rest)}`
}
