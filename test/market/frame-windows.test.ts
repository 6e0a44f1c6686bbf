import test from 'ava'
import { cutWindow, needsWindows, planWindows, WindowedFrame } from '../../src/market/frame-windows.js'
import { testFrame } from '../inference/helpers/engine-fixture.js'

test('frames are cut only when their ×4 result could not fit one job message', (t) => {
  t.false(needsWindows(960, 720)) // 0.69 MP: ×4 is 33.2 MB, under the 32 MiB (33.55 MB) message
  t.true(needsWindows(1280, 720))
  t.true(needsWindows(4000, 3000))
})

test('windows all have one size, their cores cover the frame once, and each has its context', (t) => {
  for (const [width, height] of [
    [1280, 720],
    [1000, 300],
    [1920, 1080],
    [4000, 3000],
  ] as const) {
    const windows = planWindows(width, height, 512, 16)
    const covered = new Uint8Array(width * height)
    for (const w of windows) {
      t.deepEqual([w.width, w.height], [windows[0]!.width, windows[0]!.height])
      t.true(w.width <= 512 && w.height <= 512)
      t.true(w.x >= 0 && w.y >= 0 && w.x + w.width <= width && w.y + w.height <= height)
      // Context of 16 px around the core wherever the frame goes on.
      t.true(w.core.x - w.x >= Math.min(16, w.core.x))
      t.true(w.x + w.width - (w.core.x + w.core.width) >= Math.min(16, width - (w.core.x + w.core.width)))
      t.true(w.core.y - w.y >= Math.min(16, w.core.y))
      t.true(w.y + w.height - (w.core.y + w.core.height) >= Math.min(16, height - (w.core.y + w.core.height)))
      for (let y = w.core.y; y < w.core.y + w.core.height; y++)
        for (let x = w.core.x; x < w.core.x + w.core.width; x++) covered[y * width + x]!++
    }
    t.true(
      covered.every((c) => c === 1),
      `${width}x${height}: every pixel in exactly one core`,
    )
    const held = windows.length * windows[0]!.width * windows[0]!.height
    t.log(
      `${width}x${height}: ${windows.length} windows of ${windows[0]!.width}x${windows[0]!.height}, ${Math.round((held / (width * height) - 1) * 100)} % more pixels than the frame`,
    )
  }
})

test('pasting each window back unchanged (scale 1) gives the frame again; a result of the wrong size is refused', (t) => {
  const frame = testFrame(700, 530, 3)
  const windows = planWindows(700, 530, 256, 8)
  const whole = new WindowedFrame(windows, 700, 530)
  for (const [i, w] of [...windows.entries()].reverse()) whole.put(i, cutWindow(frame, w))
  t.true(whole.complete)
  t.true(Buffer.from(whole.frame().data).equals(Buffer.from(frame.data)))
  const { width: w, height: h } = windows[0]!
  const other = new WindowedFrame(windows, 700, 530)
  t.throws(() => other.put(0, testFrame(w + 1, h)), {
    code: 'ERR_RESULT_SIZE',
    message: /a whole multiple/,
  } as never)
  other.put(0, testFrame(w * 2, h * 2))
  t.throws(() => other.put(1, testFrame(w, h)), { code: 'ERR_RESULT_SIZE', message: /2× it/ } as never)
})
