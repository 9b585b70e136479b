/** What applying one payment did, as the payment services return it to their callers. */
export type PaymentOutcome = 'paid' | 'already_paid' | 'rejected'

export type Rejected = { outcome: 'rejected'; why: 'no such order' | 'amount' | 'sub_mchid' }

export type Applied =
  | { outcome: 'paid'; awarded: number; retaken: number }
  | { outcome: 'already_paid' }
  | Rejected
