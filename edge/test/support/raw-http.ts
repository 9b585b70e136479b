import { connect } from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * One request written byte for byte on a socket: fetch and every HTTP client normalise the path
 * (`..`, `\`, `//`), which is exactly what an attacker does not do.
 */
export function rawRequest(
  baseUrl: string,
  method: string,
  rawPath: string,
  headers: Record<string, string> = {},
  body = '',
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl)
  const lines = [
    `${method} ${rawPath} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ...(body || method === 'POST' ? [`Content-Length: ${Buffer.byteLength(body)}`] : []),
  ]
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let received = Buffer.alloc(0)
    const finish = () => {
      socket.destroy()
      resolve(parse(received.toString('latin1')))
    }
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${method} ${rawPath}`)))
    // Not every server closes after `Connection: close`, so the answer ends where its framing says.
    socket.on('data', (d) => {
      received = Buffer.concat([received, d])
      if (complete(received.toString('latin1'))) finish()
    })
    socket.on('error', reject)
    socket.on('end', finish)
    // write, not end: a half-closed socket reads to Deno as a client that went away mid-request.
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`)
  })
}

function complete(text: string): boolean {
  const split = text.indexOf('\r\n\r\n')
  if (split === -1) return false
  const head = text.slice(0, split).toLowerCase()
  const length = /\r\ncontent-length:\s*(\d+)/.exec(head)
  if (length) return text.length - split - 4 >= Number(length[1])
  if (/\r\ntransfer-encoding:\s*chunked/.test(head)) return text.endsWith('\r\n0\r\n\r\n')
  return false
}

function parse(text: string): RawResponse {
  const split = text.indexOf('\r\n\r\n')
  const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const at = line.indexOf(':')
    headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim()
  }
  let body = text.slice(split + 4)
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body)
  return { status: Number(statusLine?.split(' ')[1]), headers, body }
}

function dechunk(text: string): string {
  let out = ''
  let rest = text
  for (;;) {
    const eol = rest.indexOf('\r\n')
    const size = Number.parseInt(rest.slice(0, eol), 16)
    if (!size) return out
    out += rest.slice(eol + 2, eol + 2 + size)
    rest = rest.slice(eol + 2 + size + 2)
  }
}
