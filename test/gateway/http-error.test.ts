import test from 'ava'
import { FramemeshError } from '../../src/errors.js'
import { errorBody } from '../../src/gateway/http-error.js'

test('mesh failures a client should retry later are 503s, keeping their message and code', (t) => {
  for (const code of ['ERR_NO_OFFERS', 'ERR_SENDER_INFO', 'ERR_SENDER_UNLOCKING', 'ERR_SHUTTING_DOWN']) {
    t.deepEqual(errorBody(new FramemeshError(code, 'why it failed')), {
      status: 503,
      body: { detail: { msg: `why it failed (${code})` } },
    })
  }
  for (const code of ['ERR_FRAME_TOO_LARGE', 'ERR_ITEM_TOO_LARGE'])
    t.is(errorBody(new FramemeshError(code, 'too big')).status, 413)
})

test('any other failure is a 500 with its message', (t) => {
  t.is(errorBody(new FramemeshError('ERR_JOB_FAILED', 'broke')).status, 500)
  t.deepEqual(errorBody(new Error('plain')), { status: 500, body: { detail: { msg: 'plain' } } })
})
