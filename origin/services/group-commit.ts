/**
 * Group commit: callers submit one item each and wait; items that arrive while earlier batches are
 * being written are gathered and written together by `run` in one transaction. At low load a batch
 * is the one item that arrived (started on the next turn of the event loop, or after `maxWaitMs`);
 * under load, batches grow to whatever came in while the `maxInFlight` running ones were busy, up
 * to `maxBatch`. Each caller is answered only after its batch settled, with its own result.
 */
import { setImmediate } from 'node:timers'

export interface GroupCommitOptions<I, O> {
  maxBatch: number
  maxInFlight: number
  maxWaitMs: number
  /** Settles each item, in order; a throw fails every item of the batch. */
  run(items: I[]): Promise<Array<PromiseSettledResult<O>>>
}

export interface GroupCommit<I, O> {
  submit(item: I): Promise<O>
}

interface Waiting<I, O> {
  item: I
  resolve(out: O): void
  reject(err: unknown): void
}

export function createGroupCommit<I, O>(opts: GroupCommitOptions<I, O>): GroupCommit<I, O> {
  if (!(opts.maxBatch >= 1 && opts.maxInFlight >= 1)) throw new Error('group commit: sizes must be ≥ 1')
  const queue: Array<Waiting<I, O>> = []
  let inFlight = 0
  let scheduled = false

  const start = () => {
    scheduled = false
    while (inFlight < opts.maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, opts.maxBatch)
      inFlight++
      void write(batch)
    }
  }

  const write = async (batch: Array<Waiting<I, O>>) => {
    try {
      const results = await opts.run(batch.map((w) => w.item))
      if (results.length !== batch.length)
        throw new Error(`group commit: ${results.length} results for ${batch.length} items`)
      batch.forEach((w, i) => {
        const r = results[i]!
        if (r.status === 'fulfilled') w.resolve(r.value)
        else w.reject(r.reason)
      })
    } catch (err) {
      for (const w of batch) w.reject(err)
    } finally {
      inFlight--
      schedule()
    }
  }

  const schedule = () => {
    if (scheduled || queue.length === 0 || inFlight >= opts.maxInFlight) return
    scheduled = true
    // A full batch goes at once; otherwise wait for what arrives in the same turn (or window).
    if (queue.length >= opts.maxBatch) queueMicrotask(start)
    else if (opts.maxWaitMs > 0) setTimeout(start, opts.maxWaitMs)
    else setImmediate(start)
  }

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject })
        schedule()
      })
    },
  }
}
