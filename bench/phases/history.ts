/** History pages for 100 / 10 000 / 100 000 entries: the page must cost the same at every size. */
import { signedSpec } from '../lib/api.ts'
import { type BenchContext, HISTORY_CONNS, log, settings, summary } from '../lib/context.ts'
import { explainRecordsPage, writeHistory } from '../lib/history.ts'
import { closedLoop, type LoadResult } from '../lib/load.ts'
import { HISTORY_SIZES, type Setup } from './setup.ts'

export async function historyPages(ctx: BenchContext, setup: Setup, issuanceAccountId: number) {
  const s = ctx.stack
  const history: Record<string, unknown> = {}
  const runs: Array<{ entries: number; run: LoadResult }> = []
  for (const [i, entries] of HISTORY_SIZES.entries()) {
    const user = setup.historyUsers[i]!
    const written = await writeHistory(s.databaseUrl, {
      userId: Number(user.user.id),
      merchantId: Number(setup.merchantId),
      issuanceAccountId,
      entries,
    })
    const queryPlan = await explainRecordsPage(s.databaseUrl, Number(user.user.id))
    const page = await ctx.api.call<{ items: Array<{ balanceAfter: number }>; nextCursor: string | null }>(
      'GET',
      '/api/points/records?limit=20',
      { token: user.token },
    )
    if (page.items.length !== 20 || page.items[0]?.balanceAfter !== entries || !page.nextCursor)
      throw new Error(
        `history page for ${entries} entries looks wrong: ${JSON.stringify(page).slice(0, 200)}`,
      )
    log(
      `history: ${entries} entries written in ${written.ms} ms (plan: key ${queryPlan.key}, ${queryPlan.extra ?? ''}); reading, ${HISTORY_CONNS} concurrent, ${settings.historySeconds}s`,
    )
    const run = await ctx.measured(`history ${entries}`, () =>
      closedLoop({
        baseUrl: s.origin.url,
        connections: HISTORY_CONNS,
        durationS: settings.historySeconds,
        next: () => signedSpec(ctx.signer, 'GET', '/api/points/records?limit=20', { token: user.token }),
      }),
    )
    log(`history ${entries}: ${summary(run)}`)
    history[String(entries)] = { ...run, writeMs: written.ms, plan: queryPlan }
    runs.push({ entries, run })
  }
  return { history, runs }
}
