// Admission limits as a table.
import t from 'tap'
import { refusal } from '../src/admission.js'

t.test('overall and per-client limits', async t => {
  const limits = { maxTransfers: 3, maxTransfersPerClient: 2 }
  t.equal(refusal(0, 0, limits), null)
  t.equal(refusal(2, 1, limits), null)
  t.equal(refusal(3, 0, limits), 'Server busy, try again later', 'the server is full')
  t.equal(refusal(2, 2, limits), 'Server busy: too many transfers from this client, try again later')
  t.equal(refusal(3, 2, limits), 'Server busy, try again later', 'the overall limit is named first')
})
