import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { describe, expect, it } from 'vitest'

describe('sandbox CLI', () => {
  it('prints {url, env} on one line, serves, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/main.ts'], {
      env: { ...process.env, SANDBOX_PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    const firstLine = await new Promise<string>((resolve) =>
      createInterface({ input: child.stdout }).once('line', resolve),
    )
    const { url, env } = JSON.parse(firstLine) as { url: string; env: Record<string, string> }
    expect(env.WECHAT_PAY_BASE_URL).toBe(url)
    const res = await fetch(
      `${url}/sns/jscode2session?appid=${env.WECHAT_APPID}&secret=${env.WECHAT_APP_SECRET}&js_code=code-o1&grant_type=authorization_code`,
    )
    expect(await res.json()).toMatchObject({ openid: 'o1' })
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
