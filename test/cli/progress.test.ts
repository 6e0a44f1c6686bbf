import test from 'ava'
import { createProgress } from '../../src/cli/progress.js'

test('the progress bar writes at most one line per interval, then a full bar with the rate', (t) => {
  const lines: string[] = []
  let now = 0
  const progress = createProgress((l) => lines.push(l), { label: 'upscale', total: 4, now: () => now })
  now = 500
  progress.tick() // first tick always writes
  now = 900
  progress.tick() // within the interval: no line
  now = 2000
  progress.tick()
  progress.tick()
  progress.done()
  t.deepEqual(lines, [
    'upscale [######..................]  25% 1/4 frames, 2.0 frames/s, eta 2 s',
    'upscale [##################......]  75% 3/4 frames, 1.5 frames/s, eta 1 s',
    'upscale [########################] 100% 4/4 frames, 2.0 frames/s',
  ])
})

test('without a known total the progress shows counts only', (t) => {
  const lines: string[] = []
  const progress = createProgress((l) => lines.push(l), { label: 'ocr', unit: 'frames', now: () => 1000 })
  progress.tick(3)
  t.deepEqual(lines, ['ocr 3 frames, 0.0 frames/s'])
})

test('rates count from when the work began, so progress that arrives in a burst does not read as fast', (t) => {
  const lines: string[] = []
  let now = 4000
  // Followed since 0; the first progress (all of it at once, after a reconnect) comes at 4 s.
  const progress = createProgress((l) => lines.push(l), {
    label: 'upscale',
    total: 6,
    now: () => now,
    startedAt: 0,
  })
  progress.tick(6)
  now = 4001
  progress.done()
  t.is(lines.at(-1), 'upscale [########################] 100% 6/6 frames, 1.5 frames/s')
})

test('a large item sent in parts moves the bar and the eta before it is done, and its tick clears the parts', (t) => {
  const lines: string[] = []
  let now = 0
  const progress = createProgress((l) => lines.push(l), { label: 'upscale', total: 1, now: () => now })
  now = 10_000
  progress.part(16, 64, 'windows')
  now = 20_000
  progress.part(32, 64, 'windows')
  now = 40_000
  progress.tick()
  t.deepEqual(lines, [
    'upscale [######..................]  25% 0/1 frames (next: 16/64 windows), 0.0 frames/s, eta 30 s',
    'upscale [############............]  50% 0/1 frames (next: 32/64 windows), 0.0 frames/s, eta 20 s',
    'upscale [########################] 100% 1/1 frames, 0.0 frames/s',
  ])
})
