/**
 * The Livepeer AI gateway routes framemesh can serve, answered in the exact shapes that
 * Livepeer's client SDKs parse: `{"images":[{url, seed, nsfw}]}` and `{"text"}`.
 */
import { randomInt } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { decodeImage, encodeImage } from '../inference/media/image.js'
import type { Frame, PipelineId, TextLine } from '../inference/types.js'
import { badRequest, noPeer, type ValidationIssue, validationError } from './http-error.js'
import type { GatewayMesh, MeshOutput } from './mesh-port.js'
import type { ParsedForm } from './upload.js'

/** Every task of Livepeer's AI API; the ones framemesh has no pipeline for answer 503. */
export const LIVEPEER_TASKS = [
  'text-to-image',
  'image-to-image',
  'image-to-video',
  'upscale',
  'audio-to-text',
  'segment-anything-2',
  'llm',
  'image-to-text',
  'live-video-to-video',
  'text-to-speech',
] as const

export type LivepeerTask = (typeof LIVEPEER_TASKS)[number]

const SERVED: Partial<Record<LivepeerTask, PipelineId>> = { upscale: 'upscale', 'image-to-text': 'ocr' }

/**
 * The pipeline that serves `task`, or the 503 for a task framemesh has none for. Asked before the
 * body is read: such tasks' bodies are not always multipart (text-to-image sends JSON), and the
 * client should hear that nobody serves the task, not what its body should have been.
 */
export function pipelineForTask(task: LivepeerTask): PipelineId {
  const pipeline = SERVED[task]
  if (pipeline === undefined) throw noPeer(`no peer in this mesh serves the '${task}' task`)
  return pipeline
}

interface TaskRequest {
  image: Frame
  modelId?: string
  seed: number
}

function readTaskForm(
  task: LivepeerTask,
  form: ParsedForm,
): { imagePath: string; modelId?: string; seed: number } {
  const issues: ValidationIssue[] = []
  const image = form.files.find((f) => f.field === 'image')
  if (image === undefined) issues.push({ loc: ['body', 'image'], msg: 'Field required', type: 'missing' })
  if (task === 'upscale' && form.fields.prompt === undefined)
    issues.push({ loc: ['body', 'prompt'], msg: 'Field required', type: 'missing' })
  let seed = randomInt(0, 2 ** 31 - 1)
  if (form.fields.seed !== undefined && form.fields.seed !== '') {
    const n = Number(form.fields.seed)
    if (!Number.isInteger(n))
      issues.push({ loc: ['body', 'seed'], msg: 'Input should be a valid integer', type: 'int_parsing' })
    else seed = n
  }
  for (const name of ['num_inference_steps'] as const) {
    const v = form.fields[name]
    if (v !== undefined && v !== '' && !Number.isInteger(Number(v)))
      issues.push({ loc: ['body', name], msg: 'Input should be a valid integer', type: 'int_parsing' })
  }
  const safety = form.fields.safety_check
  if (safety !== undefined && !['true', 'false', '1', '0', ''].includes(safety.toLowerCase()))
    issues.push({
      loc: ['body', 'safety_check'],
      msg: 'Input should be a valid boolean',
      type: 'bool_parsing',
    })
  if (issues.length > 0 || image === undefined) throw validationError(issues)
  const modelId = form.fields.model_id?.trim() || undefined
  return { imagePath: image.path, modelId, seed }
}

export async function runLivepeerTask(
  mesh: GatewayMesh,
  task: LivepeerTask,
  form: ParsedForm,
  signal: AbortSignal,
): Promise<unknown> {
  const pipeline = pipelineForTask(task)
  const { imagePath, modelId, seed } = readTaskForm(task, form)
  const offers = mesh
    .offers()
    .filter((o) => o.pipeline === pipeline && (modelId === undefined || o.modelId === modelId))
  if (offers.length === 0) {
    throw noPeer(
      modelId === undefined
        ? `no peer in this mesh serves '${task}' right now; try again when an orchestrator advertises it`
        : `no peer serves model '${modelId}' for '${task}'; GET /v1/offers lists the models on offer`,
    )
  }
  let image: Frame
  try {
    image = await decodeImage(await readFile(imagePath))
  } catch (err) {
    throw badRequest(`the image could not be decoded: ${(err as Error).message}`)
  }
  const request: TaskRequest = { image, modelId, seed }
  const out = await runOne(mesh, pipeline, request, signal)
  if (task === 'image-to-text') {
    const lines = (out as { kind: 'text'; lines: TextLine[] }).lines
    return { text: lines.map((l) => l.text).join('\n') }
  }
  const frame = (out as { kind: 'frame'; frame: Frame }).frame
  const png = await encodeImage(frame, 'png')
  return {
    images: [{ url: `data:image/png;base64,${Buffer.from(png).toString('base64')}`, seed, nsfw: false }],
  }
}

async function runOne(
  mesh: GatewayMesh,
  pipeline: PipelineId,
  req: TaskRequest,
  signal: AbortSignal,
): Promise<MeshOutput> {
  const run = mesh.run([{ pipeline, modelId: req.modelId }], single(req.image), { signal })
  let result: MeshOutput | undefined
  for await (const out of run.outputs) result = out
  await run.done
  if (result === undefined) throw new Error('the mesh returned no result')
  return result
}

async function* single(frame: Frame): AsyncGenerator<Frame> {
  yield frame
}
