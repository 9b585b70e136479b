/**
 * Does the shim's HTTP requests with fetch while the script's thread waits: k6's http calls are
 * synchronous, Node's are not. The answer goes back through shared memory, then a notify.
 */
import { parentPort } from 'node:worker_threads'

parentPort.on('message', async ({ request, signal, buffer }) => {
  const started = performance.now()
  let answer
  try {
    const res = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
    })
    const headers = {}
    for (const [name, value] of res.headers) headers[name] = value
    answer = { status: res.status, headers, body: await res.text(), error: '' }
  } catch (err) {
    answer = { status: 0, headers: {}, body: '', error: String(err?.cause?.message ?? err?.message ?? err) }
  }
  answer.durationMs = performance.now() - started
  const bytes = new TextEncoder().encode(JSON.stringify(answer))
  const view = new DataView(buffer)
  if (bytes.length > buffer.byteLength - 4) {
    const tooBig = new TextEncoder().encode(
      JSON.stringify({
        status: 0,
        headers: {},
        body: '',
        error: `answer larger than ${buffer.byteLength} bytes`,
      }),
    )
    view.setUint32(0, tooBig.length)
    new Uint8Array(buffer, 4).set(tooBig)
  } else {
    view.setUint32(0, bytes.length)
    new Uint8Array(buffer, 4).set(bytes)
  }
  Atomics.store(signal, 0, 1)
  Atomics.notify(signal, 0)
})
