// Which bytes a Range header asks for (RFC 9110 §14), as the gateway reads it.
import test from 'ava'
import { requestedRange } from '../../src/gateway/byte-range.js'

test('a first-last range is clipped to the file, an open one runs to its end', (t) => {
  t.deepEqual(requestedRange('bytes=0-99', 1000), { start: 0, end: 99 })
  t.deepEqual(requestedRange('bytes=900-2000', 1000), { start: 900, end: 999 })
  t.deepEqual(requestedRange('bytes=500-', 1000), { start: 500, end: 999 })
})

test('a suffix range is the last n bytes, the whole file when n is larger', (t) => {
  t.deepEqual(requestedRange('bytes=-10', 1000), { start: 990, end: 999 })
  t.deepEqual(requestedRange('bytes=-5000', 1000), { start: 0, end: 999 })
})

test('a range starting past the end, or an empty suffix, cannot be satisfied', (t) => {
  t.is(requestedRange('bytes=1000-', 1000), 'unsatisfiable')
  t.is(requestedRange('bytes=-0', 1000), 'unsatisfiable')
})

test('no header, another unit, several ranges or nonsense get the whole file', (t) => {
  for (const header of [undefined, 'items=0-1', 'bytes=0-1,5-6', 'bytes=-', 'bytes=9-3', 'bytes=a-b']) {
    t.is(requestedRange(header, 1000), undefined, String(header))
  }
})
