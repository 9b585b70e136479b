/**
 * The model-based randomized test on a short seed set: each seed runs 300 interleaved operations
 * (8 in flight) against its own real stack, with a model check and the ledger invariants after
 * every batch and a full read-back at the end. On failure the message names the seed, writes the
 * operation log and prints the commands that replay and shrink it. Longer runs: `npx tsx test/sim/run.ts --seed N --ops 20000`.
 */
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Stack } from '../harness/stack.ts'
import { formatLog, runSim, startSimStack } from './sim.ts'

const SEEDS = [1, 2, 3]
const OPS = 300
const stacks: Stack[] = []

afterAll(async () => {
  await Promise.all(stacks.map((s) => s.close()))
})

describe.concurrent('model-based simulation against the real stack', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${OPS} operations match the model`, { timeout: 120_000 }, async () => {
      const stack = await startSimStack()
      stacks.push(stack)
      const result = await runSim(stack, { seed, ops: OPS, concurrency: 8 })
      if (!result.ok) {
        const f = result.failure!
        // Generation adapts to the outcomes the stack chose, so the seed alone may not reproduce
        // this run: the operation log does, exactly.
        const file = join(tmpdir(), `sim-seed${seed}-${process.pid}-${Date.now()}.json`)
        writeFileSync(file, JSON.stringify(result.log))
        const lastBatch = result.log.batches.length
        const tail = { ...result.log, batches: result.log.batches.slice(Math.max(0, lastBatch - 1)) }
        console.error(
          [
            `simulation seed ${seed} failed at ${f.phase} ${f.batch} (${f.kind})`,
            f.report,
            'last batch of the operation log:',
            formatLog(tail),
            `operation log: ${file}`,
            `replay: npx tsx test/sim/run.ts --replay ${file}`,
            `shrink: npx tsx test/sim/run.ts --shrink ${file}`,
          ].join('\n'),
        )
      }
      expect(result.failure?.report ?? null, `seed ${seed}`).toBeNull()
      expect(result.stats.ops).toBeGreaterThanOrEqual(OPS)
      expect(stack.origin.output()).not.toContain('unhandled error')
    })
  }
})
