/**
 * 扫码登录: open a session, show its mini-program code, poll until the mini-program approves, take
 * the token once. In `npm run dev` the edge also offers "approve as <openid>" (sandbox logins only).
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { api, describeError, token } from './api.ts'
import { Alert, Field, useAction } from './ui.tsx'

interface Session {
  id: string
  qrcode: string
  expiresAt: string
}
interface SessionState {
  status: 'PENDING' | 'APPROVED' | 'EXPIRED' | 'USED'
  token?: string
}

const POLL_MS = 1500

export function LoginPage({ onLoggedIn }: { onLoggedIn: () => void }) {
  const [session, setSession] = useState<Session | null>(null)
  const [status, setStatus] = useState<SessionState['status']>('PENDING')
  const [error, setError] = useState<string>()
  const [left, setLeft] = useState(0)
  const opening = useRef(false)

  const open = async () => {
    if (opening.current) return
    opening.current = true
    setError(undefined)
    try {
      setSession(await api<Session>('POST', '/api/console/sessions'))
      setStatus('PENDING')
    } catch (err) {
      setError(describeError(err))
    } finally {
      opening.current = false
    }
  }

  useEffect(() => {
    open()
  }, [])

  useEffect(() => {
    if (!session || status !== 'PENDING') return
    let stopped = false
    const tick = async () => {
      setLeft(Math.max(0, Math.round((Date.parse(session.expiresAt) - Date.now()) / 1000)))
      try {
        const state = await api<SessionState>('GET', `/api/console/sessions/${session.id}`)
        if (stopped) return
        if (state.token) {
          token.set(state.token)
          onLoggedIn()
          return
        }
        setStatus(state.status)
      } catch (err) {
        if (!stopped) setError(describeError(err))
      }
    }
    tick()
    const timer = setInterval(tick, POLL_MS)
    return () => {
      stopped = true
      clearInterval(timer)
    }
  }, [session, status])

  return (
    <main class="login">
      <h1>扫码登录积分控制台</h1>
      <p>请用微信打开小程序，扫描下方小程序码并确认登录。</p>
      {session && status === 'PENDING' && (
        <figure>
          <img src={session.qrcode} alt="登录小程序码" width={240} height={240} />
          <figcaption aria-live="polite">等待扫码确认…（{left} 秒后过期）</figcaption>
        </figure>
      )}
      {status === 'EXPIRED' && <p role="status">二维码已过期。</p>}
      {status === 'USED' && <p role="status">此二维码已被使用。</p>}
      {(status === 'EXPIRED' || status === 'USED' || error) && (
        <button type="button" onClick={open}>
          刷新二维码
        </button>
      )}
      <Alert message={error} />
      {session && status === 'PENDING' && <DevApprove sessionId={session.id} />}
    </main>
  )
}

/** Only when the edge says the dev stack enabled it: logs in to the sandbox as `openid` and approves. */
function DevApprove({ sessionId }: { sessionId: string }) {
  const [enabled, setEnabled] = useState(false)
  const [openid, setOpenid] = useState('')
  const action = useAction()
  useEffect(() => {
    fetch('/console/dev-login.json')
      .then((r) => (r.ok ? r.json() : { enabled: false }))
      .then((d: { enabled?: boolean }) => setEnabled(d.enabled === true))
      .catch(() => setEnabled(false))
  }, [])
  if (!enabled) return null
  const submit = (e: Event) => {
    e.preventDefault()
    action.run(async () => {
      const login = await api<{ token: string }>('POST', '/api/auth/login', {
        body: { code: `code-${openid}` },
      })
      const res = await fetch(`/api/console/sessions/${sessionId}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${login.token}` },
      })
      if (!res.ok) throw new Error(`approve: HTTP ${res.status}`)
    })
  }
  return (
    <form class="dev" onSubmit={submit}>
      <h2>沙箱快捷登录（仅 npm run dev）</h2>
      <Field label="openid" name="openid" value={openid} onInput={setOpenid} required />
      <button type="submit" disabled={action.busy}>
        以此 openid 批准登录
      </button>
      <Alert message={action.error ? describeError(action.error) : undefined} />
    </form>
  )
}
