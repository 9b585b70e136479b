/**
 * Shared pieces of the chaos tests: a TCP proxy that can cut a backing service away from the
 * origin, a client that retries the way a mini-program (or a load balancer) would, and audits
 * that read the ledger and business tables directly to prove nothing was applied twice or by half.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'
import { sql } from 'drizzle-orm'
import { type ApiClient, type ApiResponse, apiClient, type CallOptions } from '../harness/client.ts'
import { REDIS_URL, type Stack, startStack } from '../harness/stack.ts'
import { pool } from '../sim/driver.ts'
import type { Rng } from '../sim/generator.ts'

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * A TCP proxy in front of MariaDB or Redis. `cut()` resets every open connection and, until
 * `restore()`, resets every new one as soon as it is accepted (the service looks down: the client
 * sees a reset, not a hang).
 */
export class TcpProxy {
  private sockets = new Set<Socket>()
  private up = true
  /** While stalled, nothing is forwarded and nothing is closed: a network partition. */
  private stalled = false
  private held: Socket[] = []
  cuts = 0
  private constructor(
    private server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined
    const server = createServer((client) => {
      if (!proxy?.up) {
        client.destroy()
        return
      }
      if (proxy.stalled) {
        proxy.held.push(client)
        client.pause()
        return
      }
      const upstream = connect(targetPort, targetHost)
      proxy.sockets.add(client)
      proxy.sockets.add(upstream)
      const drop = () => {
        client.destroy()
        upstream.destroy()
        proxy?.sockets.delete(client)
        proxy?.sockets.delete(upstream)
      }
      client.on('error', drop).on('close', drop)
      upstream.on('error', drop).on('close', drop)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    proxy = new TcpProxy(server, port)
    return proxy
  }

  cut(): void {
    this.up = false
    this.cuts++
    for (const s of this.sockets) s.resetAndDestroy()
    this.sockets.clear()
  }

  restore(): void {
    this.up = true
  }

  /** Stops forwarding bytes in both directions without closing anything (packets silently lost). */
  stall(): void {
    this.stalled = true
    for (const s of this.sockets) s.pause()
  }

  /** Ends a stall: buffered bytes flow again; connections that arrived meanwhile are reset. */
  unstall(): void {
    this.stalled = false
    for (const s of this.sockets) s.resume()
    for (const c of this.held.splice(0)) c.destroy()
  }

  get connections(): number {
    return this.sockets.size / 2
  }

  close(): Promise<void> {
    this.cut()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/** Transport failures: the request may or may not have reached the origin. */
export function isTransportError(err: unknown): boolean {
  return err instanceof TypeError || (err as { name?: string })?.name === 'AbortError'
}

export interface RetryStats {
  transportErrors: number
  unavailable: number
  other5xx: Array<{ path: string; status: number; text: string }>
}

export const newRetryStats = (): RetryStats => ({ transportErrors: 0, unavailable: 0, other5xx: [] })

/**
 * Calls until the origin gives an answer that is not "try again": transport errors (origin
 * killed or restarting) and 503 ORIGIN_UNAVAILABLE are retried; anything else is returned. Other
 * 5xx answers are recorded (and returned) so a test can fail on them. Safe for [idem] requests with
 * a key, for reads, and for writes whose retry is harmless (claims, cancels).
 */
export async function retrying(
  api: ApiClient,
  method: string,
  path: string,
  opts: CallOptions,
  stats: RetryStats,
  deadlineMs = 30_000,
): Promise<ApiResponse> {
  const until = Date.now() + deadlineMs
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await api.call(method, path, opts)
      if (r.status === 503 && r.body?.error?.code === 'ORIGIN_UNAVAILABLE') stats.unavailable++
      else {
        if (r.status >= 500) stats.other5xx.push({ path, status: r.status, text: r.text.slice(0, 300) })
        return r
      }
    } catch (err) {
      if (!isTransportError(err)) throw err
      stats.transportErrors++
    }
    if (Date.now() > until) throw new Error(`${method} ${path}: no answer within ${deadlineMs} ms`)
    await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 4)))
  }
}

export interface Kill {
  phase: string
  atMs: number
  downMs: number
}

/**
 * Runs `tasks` (8 at a time) and SIGKILLs the origin when seeded fractions of them have finished —
 * so every kill lands mid-storm however fast the machine is — restarting it each time.
 */
export async function stormWithKills(
  stack: Stack,
  phase: string,
  rng: Rng,
  times: number,
  kills: Kill[],
  tasks: Array<() => Promise<void>>,
): Promise<void> {
  const started = Date.now()
  const thresholds = Array.from(
    { length: times },
    (_, i) => (i + rng.next() * 0.8 + 0.1) / (times + 0.5),
  ).sort()
  let finished = 0
  const counted = tasks.map((t) => async () => {
    await t()
    finished++
  })
  const work = pool(counted, 8)
  let settled = false
  work.finally(() => {
    settled = true
  })
  for (const t of thresholds) {
    while (finished < t * tasks.length && !settled) await sleep(10)
    if (settled) break
    const at = Date.now()
    await stack.origin.stop('SIGKILL')
    await stack.restartOrigin()
    kills.push({ phase, atMs: at - started, downMs: Date.now() - at })
  }
  await work
}

export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 250,
) {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

type Row = Record<string, unknown>
export async function rows(stack: Stack, query: ReturnType<typeof sql>): Promise<Row[]> {
  return (await stack.db.primary.execute(query))[0] as unknown as Row[]
}

/**
 * Cross-checks every business object against the ledger, straight from the tables:
 * - each order: PAID/refunded ⇔ exactly one EARN transfer of pointsAwarded (none when 0, none when
 *   PENDING/CLOSED); refunded_fen = Σ SUCCESS refunds; refunding_fen = Σ PROCESSING refunds;
 *   points_clawed_back = floor(awarded × refunded / payable) = Σ CLAWBACK transfers; REDEEM less
 *   REDEEM_RETURN transfers = what the order still holds (nothing once CLOSED);
 * - each refund: SUCCESS ⇔ its CLAWBACK transfer (when it clawed anything), never otherwise;
 * - each gift: exactly one GIFT_SEND; settled ⇔ exactly one settlement transfer of the right kind
 *   to the right account; PENDING ⇔ none.
 * Returns human-readable problems (empty when everything agrees).
 */
export async function auditBusinessAgainstLedger(stack: Stack): Promise<string[]> {
  const problems: string[] = []
  const orderRows = await rows(
    stack,
    sql`SELECT o.id, o.status, o.amount_fen, o.points_awarded, o.refunded_fen, o.refunding_fen,
          o.points_clawed_back, o.payable_fen, o.redeem_points, o.redeem_returned,
          (SELECT COALESCE(SUM(points), 0) FROM transfers t WHERE t.kind = 'REDEEM' AND t.ref_id = CAST(o.id AS CHAR)) AS redeemed,
          (SELECT COALESCE(SUM(points), 0) FROM transfers t WHERE t.kind = 'REDEEM_RETURN' AND t.ref_id = CAST(o.id AS CHAR)) AS returned,
          (SELECT COUNT(*) FROM transfers t WHERE t.business_key = CONCAT('EARN:', o.id)) AS earn_count,
          (SELECT COALESCE(SUM(points), 0) FROM transfers t WHERE t.business_key = CONCAT('EARN:', o.id)) AS earn_points,
          (SELECT COALESCE(SUM(amount_fen), 0) FROM refunds r WHERE r.order_id = o.id AND r.status = 'SUCCESS') AS ok_fen,
          (SELECT COALESCE(SUM(amount_fen), 0) FROM refunds r WHERE r.order_id = o.id AND r.status = 'PROCESSING') AS open_fen,
          (SELECT COALESCE(SUM(t.points), 0) FROM transfers t JOIN refunds r ON t.business_key = CONCAT('CLAWBACK:', r.id)
             WHERE r.order_id = o.id) AS clawed
        FROM orders o`,
  )
  for (const o of orderRows) {
    const n = (k: string) => Number(o[k])
    const paid = ['PAID', 'PARTIALLY_REFUNDED', 'REFUNDED'].includes(String(o.status))
    const wantEarn = paid && n('points_awarded') > 0 ? 1 : 0
    if (n('earn_count') !== wantEarn || (wantEarn && n('earn_points') !== n('points_awarded')))
      problems.push(
        `order ${o.id} ${o.status}: ${n('earn_count')} EARN transfers of ${n('earn_points')} for ${n('points_awarded')} awarded`,
      )
    if (n('refunded_fen') !== n('ok_fen') || n('refunding_fen') !== n('open_fen'))
      problems.push(
        `order ${o.id}: refunded ${n('refunded_fen')}/refunding ${n('refunding_fen')} but refunds say ${n('ok_fen')}/${n('open_fen')}`,
      )
    // Redeemed points: held once, given back exactly as the order records (all of them if CLOSED).
    const held = n('redeemed') - n('returned')
    const wantReturned = o.status === 'CLOSED' ? n('redeem_points') : n('redeem_returned')
    if (held !== n('redeem_points') - n('redeem_returned') || n('redeem_returned') !== wantReturned)
      problems.push(
        `order ${o.id} ${o.status}: redeemed ${n('redeemed')} returned ${n('returned')}, records ${n('redeem_points')}/${n('redeem_returned')}`,
      )
    const claw = Number((BigInt(n('points_awarded')) * BigInt(n('refunded_fen'))) / BigInt(n('payable_fen')))
    if (n('points_clawed_back') !== claw || n('clawed') !== claw)
      problems.push(
        `order ${o.id}: clawed back ${n('points_clawed_back')} (transfers ${n('clawed')}), formula ${claw}`,
      )
    const wantStatus =
      n('refunded_fen') === 0
        ? null
        : n('refunded_fen') === n('payable_fen')
          ? 'REFUNDED'
          : 'PARTIALLY_REFUNDED'
    if (wantStatus && o.status !== wantStatus)
      problems.push(`order ${o.id} is ${o.status}, refunds say ${wantStatus}`)
  }
  const refundRows = await rows(
    stack,
    sql`SELECT r.id, r.status, r.points_clawed_back,
          (SELECT COUNT(*) FROM transfers t WHERE t.business_key = CONCAT('CLAWBACK:', r.id)) AS n,
          (SELECT COALESCE(SUM(points), 0) FROM transfers t WHERE t.business_key = CONCAT('CLAWBACK:', r.id)) AS p
        FROM refunds r`,
  )
  for (const r of refundRows) {
    const want = r.status === 'SUCCESS' && Number(r.points_clawed_back) > 0 ? 1 : 0
    if (Number(r.n) !== want || Number(r.p) !== (want ? Number(r.points_clawed_back) : 0))
      problems.push(
        `refund ${r.id} ${r.status}: ${r.n} CLAWBACK transfers of ${r.p}, recorded ${r.points_clawed_back}`,
      )
  }
  const giftRows = await rows(
    stack,
    sql`SELECT g.id, g.status, g.points, g.remaining_points, g.sender_user_id,
          (SELECT COUNT(*) FROM transfers t WHERE t.business_key = CONCAT('GIFT_SEND:', g.id) AND t.points = g.points) AS sent,
          (SELECT COUNT(*) FROM gift_shares s WHERE s.gift_id = g.id AND s.claimed_by_user_id IS NOT NULL) AS claimed,
          (SELECT COUNT(*) FROM gift_shares s JOIN transfers t ON t.business_key = CONCAT('GIFT_CLAIM:', g.id, ':', s.share_index)
             JOIN accounts a ON a.id = t.credit_account_id
             WHERE s.gift_id = g.id AND a.owner_id = s.claimed_by_user_id AND t.points = s.points) AS paid,
          (SELECT COUNT(*) FROM transfers t WHERE t.business_key LIKE CONCAT('GIFT_CLAIM:', g.id, ':%')) AS claims,
          (SELECT COALESCE(SUM(t.points), 0) FROM transfers t WHERE t.business_key LIKE CONCAT('GIFT_CLAIM:', g.id, ':%')) AS claimedPoints,
          (SELECT COALESCE(MAX(CONCAT(a.owner_id, ':', t.points)), '') FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
             WHERE t.business_key = CONCAT('GIFT_RETURN:', g.id)) AS returned
        FROM gifts g`,
  )
  // Every claimed share was paid once to its claimer; an ended gift returned exactly the rest.
  for (const g of giftRows) {
    if (Number(g.sent) !== 1) problems.push(`gift ${g.id}: ${g.sent} GIFT_SEND transfers`)
    if (Number(g.claims) !== Number(g.claimed) || Number(g.paid) !== Number(g.claimed))
      problems.push(
        `gift ${g.id}: ${g.claimed} shares claimed, ${g.claims} claim transfers, ${g.paid} to their claimer`,
      )
    const rest = Number(g.points) - Number(g.claimedPoints)
    const ended = g.status === 'CANCELLED' || g.status === 'EXPIRED'
    const want = ended && rest > 0 ? `${g.sender_user_id}:${rest}` : ''
    if (g.returned !== want)
      problems.push(`gift ${g.id} ${g.status}: returned "${g.returned}", want "${want}"`)
    if (Number(g.remaining_points) !== (ended ? 0 : rest))
      problems.push(`gift ${g.id} ${g.status}: remaining ${g.remaining_points}, shares say ${rest}`)
    if ((g.status === 'CLAIMED') !== (rest === 0 && !ended))
      problems.push(`gift ${g.id} is ${g.status} with ${rest} points unclaimed`)
  }
  return problems
}

/** Balances of user accounts by user id, from the table (the API's source). */
export async function userBalances(stack: Stack): Promise<Map<string, number>> {
  const list = await rows(stack, sql`SELECT owner_id, balance FROM accounts WHERE kind = 'USER'`)
  return new Map(list.map((r) => [String(r.owner_id), Number(r.balance)]))
}

/**
 * What a shopper's balance must be after a storm, from the outcomes the test recorded: starting
 * points + awards (1 point per 100 fen) − claw-backs by API.md's cumulative floor formula, − gifts
 * the shopper sent that were claimed + gifts the shopper claimed.
 */
export function expectedShopperBalance(
  shopper: { index: number; id: string },
  startingPoints: number,
  orders: ReadonlyArray<{ user: number; id: string; amountFen: number }>,
  refunds: ReadonlyArray<{ order: string; amountFen: number; result: string }>,
  giftRows: ReadonlyArray<Row>,
): number {
  let expected = startingPoints
  for (const o of orders.filter((x) => x.user === shopper.index)) {
    const award = Math.floor(o.amountFen / 100)
    const refunded = refunds
      .filter((r) => r.order === o.id && r.result === 'SUCCESS')
      .reduce((sum, r) => sum + r.amountFen, 0)
    expected += award - Math.floor((award * refunded) / o.amountFen)
  }
  for (const g of giftRows) {
    if (String(g.sender_user_id) === shopper.id && g.status === 'CLAIMED') expected -= Number(g.points)
    if (String(g.claimed_by_user_id) === shopper.id) expected += Number(g.points)
  }
  return expected
}

export interface ProxiedStack {
  stack: Stack
  api: ApiClient
  /** The proxies the origin reaches its backing services through, for those asked for. */
  mysql?: TcpProxy
  redis?: TcpProxy
  /** GET /ready: its status and the per-service checks. */
  ready(): Promise<{ status: number; body: { checks: { mysql: string; redis: string } } }>
  close(): Promise<void>
}

/** A stack whose origin reaches MariaDB and/or Redis only through proxies the test can cut or stall. */
export async function startProxiedStack(through: {
  mysql?: boolean
  redis?: boolean
}): Promise<ProxiedStack> {
  const stack = await startStack()
  const env: Record<string, string> = {}
  let mysql: TcpProxy | undefined
  let redis: TcpProxy | undefined
  if (through.mysql) {
    const db = new URL(stack.databaseUrl)
    mysql = await TcpProxy.start(Number(db.port || 3306), db.hostname)
    db.hostname = '127.0.0.1'
    db.port = String(mysql.port)
    env.DATABASE_URL = db.toString()
  }
  if (through.redis) {
    const url = new URL(REDIS_URL)
    redis = await TcpProxy.start(Number(url.port || 6379), url.hostname)
    env.REDIS_URL = `redis://127.0.0.1:${redis.port}`
  }
  await stack.restartOrigin(env)
  return {
    stack,
    api: apiClient(stack.origin.url),
    mysql,
    redis,
    async ready() {
      const res = await fetch(`${stack.origin.url}/ready`)
      return { status: res.status, body: (await res.json()) as { checks: { mysql: string; redis: string } } }
    },
    async close() {
      await mysql?.close()
      await redis?.close()
      await stack.close()
    },
  }
}
