/** Operator actions on one user: freeze / unfreeze (API.md §14) and balance adjustments. */
import { useState } from 'preact/hooks'
import { api, describeError } from '../api.ts'
import { PointsForm } from '../merchant/tools.tsx'
import { Alert, Dialog, Field, fieldError, useAction } from '../ui.tsx'

export function UsersPage() {
  const [userId, setUserId] = useState('')
  const [confirming, setConfirming] = useState<'freeze' | 'unfreeze' | null>(null)
  const [done, setDone] = useState<string>()
  const action = useAction()
  const label = { freeze: '冻结', unfreeze: '解冻' }
  const run = (what: 'freeze' | 'unfreeze') =>
    action.run(async () => {
      await api('POST', `/api/admin/users/${encodeURIComponent(userId.trim())}/${what}`)
      setConfirming(null)
      setDone(`用户 ${userId} 已${label[what]}。`)
    })
  return (
    <>
      <p>冻结后该用户不能下单、赠送或领取积分，查询不受影响。</p>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault()
          setDone(undefined)
          setConfirming('freeze')
        }}
      >
        <Field
          label="用户 ID"
          name="userId"
          value={userId}
          onInput={setUserId}
          error={fieldError(action.error, 'userId')}
        />
        {done && <p role="status">{done}</p>}
        <Alert message={!confirming && action.error ? describeError(action.error) : undefined} />
        <div class="actions">
          <button type="submit">冻结</button>
          <button
            type="button"
            onClick={() => {
              setDone(undefined)
              setConfirming('unfreeze')
            }}
          >
            解冻
          </button>
        </div>
      </form>
      {confirming && (
        <Dialog title={`${label[confirming]}用户 ${userId}`} onClose={() => setConfirming(null)}>
          <Alert message={action.error ? describeError(action.error) : undefined} />
          <div class="actions">
            <button type="button" disabled={action.busy} onClick={() => run(confirming)}>
              确认
            </button>
            <button type="button" onClick={() => setConfirming(null)}>
              取消
            </button>
          </div>
        </Dialog>
      )}
    </>
  )
}

export function AdjustmentsPage() {
  return (
    <PointsForm
      path="/api/admin/adjustments"
      submitLabel="提交调整"
      pointsLabel="积分（负数为扣减）"
      done={(n, u) => `已为用户 ${u} 调整 ${n > 0 ? '+' : ''}${n} 积分。`}
    />
  )
}
