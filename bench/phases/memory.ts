/** After the load: the ledger's invariants, the origin's memory (RSS and V8's own view), a heap snapshot on request. */
import { mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createDatabase } from '../../origin/db/client.ts'
import { checkLedgerInvariants } from '../../origin/services/ledger.ts'
import { type BenchContext, log, settings } from '../lib/context.ts'
import { memoryOf } from '../lib/procs.ts'

export async function ledgerAndMemory(ctx: BenchContext) {
  const s = ctx.stack
  const db = createDatabase({ url: s.databaseUrl, poolSize: 4 })
  const invariants = await checkLedgerInvariants(db.primary).finally(() => db.close())
  const invariantsHold = Object.values(invariants).every((v) => v === 0)
  log(`ledger invariants: ${JSON.stringify(invariants)} → ${invariantsHold ? 'hold' : 'BROKEN'}`)
  const originMemory = ctx.originMemoryNow()
  const denoMemory = memoryOf(s.edges.deno.child.pid)
  const heap = await originHeap(s.origin.url)
  log(
    `origin memory: RSS ${originMemory.rssMiB} MiB (peak ${originMemory.peakMiB} MiB); V8 heap used ${heap.heapUsedMiB} of ${heap.heapTotalMiB} MiB, external ${heap.externalMiB} MiB`,
  )
  log(`origin RSS after each phase (MiB): ${JSON.stringify(ctx.originRss)}`)
  // In cluster mode the first worker, not the primary, holds a request-serving heap.
  if (settings.heapSnapshotDir)
    await heapSnapshot(ctx.originPids[1] ?? s.origin.child.pid, settings.heapSnapshotDir)
  return { invariants, invariantsHold, originMemory, denoMemory, heap }
}

/** Asks the origin for a heap snapshot (it takes a full GC first) and waits until it is written. */
async function heapSnapshot(pid: number, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true })
  const before = new Set(readdirSync(dir))
  log(`heap snapshot: SIGUSR2 to the origin (pid ${pid}), writing to ${dir}`)
  process.kill(pid, 'SIGUSR2')
  const deadline = Date.now() + 120_000
  for (;;) {
    await new Promise((r) => setTimeout(r, 500))
    const file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'))
    // The file appears at once and grows while V8 writes it: wait until its size settles.
    if (file) {
      const size = statSync(join(dir, file)).size
      await new Promise((r) => setTimeout(r, 1000))
      if (statSync(join(dir, file)).size === size && size > 0) {
        log(
          `heap snapshot: ${join(dir, file)} (${Math.round(size / 2 ** 20)} MiB); RSS now ${memoryOf(pid)?.rssMiB} MiB`,
        )
        return
      }
    }
    if (Date.now() > deadline) throw new Error('the origin wrote no heap snapshot within 120 s')
  }
}

/** The origin's own view of its memory, from prom-client's default metrics on /metrics. */
async function originHeap(originUrl: string) {
  const text = await (await fetch(`${originUrl}/metrics`)).text()
  const mib = (metric: string) => {
    const m = new RegExp(`^${metric} ([0-9.e+]+)$`, 'm').exec(text)
    return m ? Math.round(Number(m[1]) / 104857.6) / 10 : Number.NaN
  }
  return {
    heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
    heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
    externalMiB: mib('nodejs_external_memory_bytes'),
  }
}
