/**
 * The WeChat sandbox in its own process for the bench (so its RSA work does not share the load
 * generator's event loop). Prints one line `SANDBOX {"url","config","payPrivateKeyPem"}`; exits on
 * SIGTERM/SIGINT or when the bench closes stdin.
 */
import { startSandbox } from '../../sandbox/server.ts'

const sandbox = await startSandbox({ retryTimeScale: 0.001 })
console.log(
  `SANDBOX ${JSON.stringify({ url: sandbox.url, config: sandbox.config, payPrivateKeyPem: sandbox.payPrivateKeyPem })}`,
)

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  void sandbox.close().then(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.resume()
