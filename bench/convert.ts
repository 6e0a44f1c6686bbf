/**
 * `npm run bench:convert`: what converting the UpscalerJS models to ONNX buys. Each converted
 * model runs in onnxruntime-node and its TF.js original in tfjs's pure-JS CPU backend (the
 * baseline) on the same photo crop; the ratio is baseline time ÷ ONNX time per frame.
 */
import * as ort from 'onnxruntime-node'
import { readTfjsLayersModel } from '../src/inference/convert/tfjs-model.js'
import { convertTfjsLayersToOnnx } from '../src/inference/convert/tfjs-to-onnx.js'
import { loadTfjsModel, photoCrop, runTfjs, upscalerModelJson } from '../test/inference/convert-fixtures.js'

const cases = [
  { pkg: 'esrgan-slim', scale: 2, sourceMax: 255, size: 64 },
  { pkg: 'esrgan-slim', scale: 4, sourceMax: 255, size: 64 },
  { pkg: 'esrgan-medium', scale: 2, sourceMax: 255, size: 64 },
  { pkg: 'esrgan-thick', scale: 2, sourceMax: 1, size: 24 },
] as const

/** Mean ms per call over at least `minRuns` calls and `budgetMs`, after one warm-up call. */
async function timePerCall(op: () => unknown, budgetMs: number, minRuns = 1): Promise<number> {
  await op()
  let runs = 0
  const start = performance.now()
  while (runs < minRuns || performance.now() - start < budgetMs) {
    await op()
    runs++
  }
  return (performance.now() - start) / runs
}

async function main(): Promise<void> {
  console.log(
    `${'model'.padEnd(18)} ${'frame'.padEnd(7)} ${'convert'.padStart(9)} ${'tfjs-cpu'.padStart(10)} ${'onnx'.padStart(9)}  ratio`,
  )
  for (const c of cases) {
    const modelJson = upscalerModelJson(c.pkg, c.scale)
    const t0 = performance.now()
    const converted = convertTfjsLayersToOnnx(await readTfjsLayersModel(modelJson), {
      name: c.pkg,
      sourceMax: c.sourceMax,
    })
    const convertMs = performance.now() - t0
    const image = await photoCrop(c.size, c.size, 16, 16)
    const tfModel = await loadTfjsModel(modelJson)
    const session = await ort.InferenceSession.create(converted.onnx)
    const feed = { input: new ort.Tensor('float32', image, [1, c.size, c.size, 3]) }
    const tfMs = await timePerCall(() => runTfjs(tfModel, image, c.size, c.size, c.sourceMax), 3000)
    const onnxMs = await timePerCall(() => session.run(feed), 1000)
    await session.release()
    tfModel.dispose()
    console.log(
      `${`${c.pkg}-x${c.scale}`.padEnd(18)} ${`${c.size}x${c.size}`.padEnd(7)} ${convertMs.toFixed(0).padStart(6)} ms ${tfMs.toFixed(1).padStart(7)} ms ${onnxMs.toFixed(1).padStart(6)} ms  ${(tfMs / onnxMs).toFixed(1)}x`,
    )
  }
}

await main()
