/**
 * CLI for the model-based simulation.
 *
 *   npx tsx test/sim/run.ts --seed 42 --ops 2000 --concurrency 8
 *   npx tsx test/sim/run.ts --replay /tmp/sim-42.json          # replay a saved operation log
 *   npx tsx test/sim/run.ts --shrink /tmp/sim-42.json          # replay it, then shrink what fails
 *   options: --batch N (ops per checkpoint, default 3 × concurrency), --users N, --merchants N,
 *            --no-shrink, --out FILE (where to write the failing log; default /tmp/sim-<seed>.json)
 *
 * Needs MariaDB (127.0.0.1:3306, root) and Redis (127.0.0.1:6379) like the tests; every run gets a
 * fresh database. Exit code 0 when the stack matched the model throughout, 1 otherwise. On failure it
 * prints the seed, shrinks the log by replaying it on fresh stacks, and prints the shortest log
 * that still fails and the command that replays it.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { formatLog, type OpLog, replay, runSim, type SimResult, shrink, startSimStack } from './sim.ts'

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    ops: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    batch: { type: 'string' },
    users: { type: 'string' },
    merchants: { type: 'string' },
    replay: { type: 'string' },
    shrink: { type: 'string' },
    'no-shrink': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
})

const say = (line: string) => console.log(line)

function summary(r: SimResult): string {
  const s = r.stats
  return `${s.ops} ops (${s.skipped} skipped) in ${s.batches} checkpoints, ${(s.ms / 1000).toFixed(1)} s, ${s.searchStates} checker states, statuses ${JSON.stringify(s.status)}, callback first-attempt failures ${s.callbackRetries}, time split ${JSON.stringify(s.timing)}`
}

async function main(): Promise<number> {
  const started = Date.now()
  let result: SimResult
  const stack = await startSimStack()
  try {
    const file = values.replay ?? values.shrink
    if (file) {
      const log = JSON.parse(readFileSync(file, 'utf8')) as OpLog
      say(`replaying ${file}: ${log.batches.length} batches`)
      result = await replay(stack, log, { log: say })
    } else {
      const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31)
      say(`seed ${seed}: ${values.ops} ops, concurrency ${values.concurrency}`)
      result = await runSim(stack, {
        seed,
        ops: Number(values.ops),
        concurrency: Number(values.concurrency),
        batchSize: values.batch ? Number(values.batch) : undefined,
        users: values.users ? Number(values.users) : undefined,
        merchants: values.merchants ? Number(values.merchants) : undefined,
        log: say,
      })
    }
  } finally {
    await stack.close()
  }
  if (result.ok) {
    say(`PASS seed ${result.seed}: ${summary(result)}; wall ${((Date.now() - started) / 1000).toFixed(1)} s`)
    return 0
  }
  const f = result.failure!
  say(`FAIL seed ${result.seed} at ${f.phase} ${f.batch} (${f.kind}): ${summary(result)}`)
  say(f.report)
  const out =
    values.out ??
    (values.shrink ? values.shrink.replace(/(\.min)?\.json$/, '.again.json') : `/tmp/sim-${result.seed}.json`)
  writeFileSync(out, JSON.stringify(result.log))
  say(`operation log written to ${out}`)
  if (!values['no-shrink'] && !values.replay) {
    const small = await shrink(result, { log: say })
    const smallOut = out.replace(/\.json$/, '.min.json')
    writeFileSync(smallOut, JSON.stringify(small))
    say(`shortest failing log (${smallOut}):`)
    say(formatLog(small))
    say(`reproduce: npx tsx test/sim/run.ts --replay ${smallOut}`)
  } else {
    say(`reproduce: npx tsx test/sim/run.ts --replay ${out}`)
  }
  return 1
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err)
    process.exit(2)
  },
)
