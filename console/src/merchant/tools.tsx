/** The merchant's mini-program code, staff invitations and point grants. */
import { useEffect, useState } from 'preact/hooks'
import { api, describeError } from '../api.ts'
import type { Me } from '../types.ts'
import { Alert, Field, fieldError, formError, parseIntText, useAction, useIdempotencyKey } from '../ui.tsx'

export function QrCodePage({ me }: { me: Me }) {
  const [url, setUrl] = useState<string>()
  const [error, setError] = useState<string>()
  useEffect(() => {
    let objectUrl: string | undefined
    api<Response>('GET', '/api/merchant/qrcode', { raw: true })
      .then((res) => res.blob())
      .then((blob) => {
        objectUrl = URL.createObjectURL(blob)
        setUrl(objectUrl)
      })
      .catch((err) => setError(describeError(err)))
    return () => objectUrl && URL.revokeObjectURL(objectUrl)
  }, [])
  return (
    <>
      <p>顾客用微信扫描此码即可打开本店的付款页。</p>
      <Alert message={error} />
      {url && (
        <figure>
          <img src={url} alt="本店小程序码" width={280} height={280} />
          <figcaption>
            <a href={url} download={`merchant-${me.merchantId}-qrcode.png`}>
              下载 PNG
            </a>
          </figcaption>
        </figure>
      )}
    </>
  )
}

export function StaffPage({ me }: { me: Me }) {
  const [userId, setUserId] = useState('')
  const [invited, setInvited] = useState<string>()
  const [removeId, setRemoveId] = useState('')
  const [removed, setRemoved] = useState<string>()
  const invite = useAction()
  const remove = useAction()
  if (!me.roles.includes('merchant_owner')) return <p>只有商户主可以管理员工。</p>
  return (
    <>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault()
          setInvited(undefined)
          invite.run(async () => {
            const r = await api<{ invitationId: string; status: string }>('POST', '/api/merchant/staff', {
              body: { userId, role: 'merchant_staff' },
            })
            setInvited(`已发出邀请 ${r.invitationId}（${r.status}），对方在小程序中接受后成为员工。`)
          })
        }}
      >
        <h2 id="invite-title">邀请员工</h2>
        <Field
          label="用户 ID"
          name="userId"
          value={userId}
          onInput={setUserId}
          error={fieldError(invite.error, 'userId')}
        />
        <Alert message={formError(invite.error, ['userId'])} />
        {invited && <p role="status">{invited}</p>}
        <button type="submit" disabled={invite.busy}>
          邀请
        </button>
      </form>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault()
          setRemoved(undefined)
          remove.run(async () => {
            await api('DELETE', `/api/merchant/staff/${encodeURIComponent(removeId)}`)
            setRemoved(`已移除员工 ${removeId}。`)
          })
        }}
      >
        <h2 id="remove-title">移除员工</h2>
        <Field label="员工用户 ID" name="staffUserId" value={removeId} onInput={setRemoveId} />
        <Alert message={remove.error ? describeError(remove.error) : undefined} />
        {removed && <p role="status">{removed}</p>}
        <button type="submit" disabled={remove.busy}>
          移除
        </button>
      </form>
    </>
  )
}

export function PointsForm(p: {
  path: string
  submitLabel: string
  pointsLabel: string
  done: (points: number, userId: string) => string
}) {
  const [userId, setUserId] = useState('')
  const [points, setPoints] = useState('')
  const [reason, setReason] = useState('')
  const [done, setDone] = useState<string>()
  const idem = useIdempotencyKey()
  const action = useAction()
  const fields = ['userId', 'points', 'reason']
  return (
    <form
      class="form"
      onSubmit={(e) => {
        e.preventDefault()
        setDone(undefined)
        action.run(async () => {
          const body = { userId, points: parseIntText(points) ?? points, reason }
          await api('POST', p.path, { body, idempotencyKey: idem.keyFor(body) })
          idem.done()
          setDone(p.done(Number(points), userId))
          setPoints('')
          setReason('')
        })
      }}
    >
      <Field
        label="用户 ID"
        name="userId"
        value={userId}
        onInput={setUserId}
        error={fieldError(action.error, 'userId')}
      />
      <Field
        label={p.pointsLabel}
        name="points"
        value={points}
        inputMode="numeric"
        onInput={setPoints}
        error={fieldError(action.error, 'points', ['GRANT_LIMIT_EXCEEDED', 'INSUFFICIENT_POINTS'])}
      />
      <Field
        label="原因"
        name="reason"
        value={reason}
        onInput={setReason}
        error={fieldError(action.error, 'reason')}
      />
      <Alert message={formError(action.error, fields, ['GRANT_LIMIT_EXCEEDED', 'INSUFFICIENT_POINTS'])} />
      {done && <p role="status">{done}</p>}
      <button type="submit" disabled={action.busy}>
        {p.submitLabel}
      </button>
    </form>
  )
}

export function GrantsPage({ me }: { me: Me }) {
  if (!me.roles.includes('merchant_owner')) return <p>只有商户主可以赠送积分。</p>
  return (
    <PointsForm
      path="/api/merchant/grants"
      submitLabel="赠送"
      pointsLabel="积分"
      done={(n, u) => `已向用户 ${u} 赠送 ${n} 积分。`}
    />
  )
}
