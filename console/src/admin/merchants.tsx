/** Merchant review: pending applications first; approve, reject, suspend, set the sub-merchant id. */
import { useEffect, useState } from 'preact/hooks'
import { api, describeError } from '../api.ts'
import { Alert, Dialog, Field, fieldError, formError, shanghaiTime, useAction } from '../ui.tsx'

interface Merchant {
  id: string
  name: string
  status: string
  contactPhone: string
  subMchid: string | null
  createdAt: string
}
type Page = { items: Merchant[]; nextCursor: string | null }

const STATUS_TEXT: Record<string, string> = {
  PENDING_REVIEW: '待审核',
  ACTIVE: '营业中',
  REJECTED: '已拒绝',
  SUSPENDED: '已暂停',
}

type Pending =
  | { merchant: Merchant; action: 'reject' | 'suspend' }
  | { merchant: Merchant; action: 'payment' }

export function MerchantsPage() {
  const [pending, setPending] = useState<Merchant[]>([])
  const [others, setOthers] = useState<Merchant[]>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const [dialog, setDialog] = useState<Pending | null>(null)
  const [notice, setNotice] = useState<string>()
  const load = useAction()
  const act = useAction()

  const reload = () =>
    load.run(async () => {
      const [p, all] = await Promise.all([
        api<Page>('GET', '/api/admin/merchants?status=PENDING_REVIEW&limit=100'),
        api<Page>('GET', '/api/admin/merchants?limit=50'),
      ])
      setPending(p.items)
      setOthers(all.items.filter((m) => m.status !== 'PENDING_REVIEW'))
      setCursor(all.nextCursor)
    })
  const more = () =>
    load.run(async () => {
      const all = await api<Page>('GET', `/api/admin/merchants?limit=50&cursor=${cursor}`)
      setOthers((prev) => [...prev, ...all.items.filter((m) => m.status !== 'PENDING_REVIEW')])
      setCursor(all.nextCursor)
    })
  useEffect(() => {
    reload()
  }, [])

  const review = (m: Merchant, action: 'approve' | 'reject' | 'suspend') =>
    act.run(async () => {
      const updated = await api<Merchant>('POST', `/api/admin/merchants/${m.id}/${action}`)
      setDialog(null)
      setNotice(`${updated.name}：${STATUS_TEXT[updated.status] ?? updated.status}`)
      await reload()
    })

  const row = (m: Merchant) => (
    <tr key={m.id}>
      <th scope="row">{m.name}</th>
      <td>{STATUS_TEXT[m.status] ?? m.status}</td>
      <td>{m.contactPhone}</td>
      <td>{m.subMchid ?? '—'}</td>
      <td>{shanghaiTime(m.createdAt)}</td>
      <td class="actions">
        {(m.status === 'PENDING_REVIEW' || m.status === 'SUSPENDED') && (
          <button type="button" disabled={act.busy} onClick={() => review(m, 'approve')}>
            {m.status === 'SUSPENDED' ? '恢复' : '通过'}
          </button>
        )}
        {m.status === 'PENDING_REVIEW' && (
          <button type="button" onClick={() => setDialog({ merchant: m, action: 'reject' })}>
            拒绝
          </button>
        )}
        {m.status === 'ACTIVE' && (
          <button type="button" onClick={() => setDialog({ merchant: m, action: 'suspend' })}>
            暂停
          </button>
        )}
        <button type="button" onClick={() => setDialog({ merchant: m, action: 'payment' })}>
          子商户号
        </button>
      </td>
    </tr>
  )
  const table = (caption: string, items: Merchant[]) => (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">名称</th>
          <th scope="col">状态</th>
          <th scope="col">联系电话</th>
          <th scope="col">子商户号</th>
          <th scope="col">申请时间</th>
          <th scope="col">操作</th>
        </tr>
      </thead>
      <tbody>{items.map(row)}</tbody>
    </table>
  )

  return (
    <>
      <Alert message={load.error ? describeError(load.error) : undefined} />
      <Alert message={!dialog && act.error ? describeError(act.error) : undefined} />
      {notice && <p role="status">{notice}</p>}
      {table(`待审核（${pending.length}）`, pending)}
      {table('其他商户', others)}
      {cursor && (
        <button type="button" disabled={load.busy} onClick={more}>
          加载更多
        </button>
      )}
      {dialog && dialog.action !== 'payment' && (
        <Dialog
          title={`${dialog.action === 'reject' ? '拒绝' : '暂停'}商户：${dialog.merchant.name}`}
          onClose={() => setDialog(null)}
        >
          <p>
            {dialog.action === 'reject'
              ? '拒绝后该申请不能再通过。'
              : '暂停后该商户不能收款，商户主和员工只能查看，已支付订单仍可退款。'}
          </p>
          <Alert message={act.error ? describeError(act.error) : undefined} />
          <div class="actions">
            <button
              type="button"
              disabled={act.busy}
              onClick={() => review(dialog.merchant, dialog.action as 'reject')}
            >
              确认
            </button>
            <button type="button" onClick={() => setDialog(null)}>
              取消
            </button>
          </div>
        </Dialog>
      )}
      {dialog?.action === 'payment' && (
        <SubMchidDialog
          merchant={dialog.merchant}
          onClose={() => setDialog(null)}
          onDone={(m) => {
            setDialog(null)
            setNotice(`${m.name}：子商户号 ${m.subMchid}`)
            reload()
          }}
        />
      )}
    </>
  )
}

function SubMchidDialog(p: { merchant: Merchant; onClose: () => void; onDone: (m: Merchant) => void }) {
  const [subMchid, setSubMchid] = useState(p.merchant.subMchid ?? '')
  const action = useAction()
  return (
    <Dialog title={`设置子商户号：${p.merchant.name}`} onClose={p.onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          action.run(async () => {
            p.onDone(
              await api<Merchant>('PUT', `/api/admin/merchants/${p.merchant.id}/payment`, {
                body: { subMchid },
              }),
            )
          })
        }}
      >
        <Field
          label="子商户号"
          name="subMchid"
          value={subMchid}
          inputMode="numeric"
          hint="微信支付特约商户号，1 到 32 位数字"
          onInput={setSubMchid}
          error={fieldError(action.error, 'subMchid')}
        />
        <Alert message={formError(action.error, ['subMchid'])} />
        <div class="actions">
          <button type="submit" disabled={action.busy}>
            确认
          </button>
          <button type="button" onClick={p.onClose}>
            取消
          </button>
        </div>
      </form>
    </Dialog>
  )
}
