/**
 * The body of one session worker thread (see worker-session.ts): it opens one onnxruntime session
 * and runs it on request. onnxruntime-node's run holds the thread it is called on for the whole
 * inference, so running it here leaves the main thread free for network and payment work.
 * Inputs arrive in a shared staging slot (read in place, see staging.ts) or, when they were
 * transferred or are not stageable, inside the message; output buffers are transferred, never copied.
 * It is a thread's entry and nothing else: importing it starts serving on the thread's parent
 * port, so what both sides share lives in session-wire.ts.
 */
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import * as ort from 'onnxruntime-node'
import { openOrtSession, ortModelBytes } from './model-file.js'
import type {
  RunRequest,
  ThreadInit,
  ThreadReply,
  ThreadRequest,
  WireInput,
  WireTensor,
} from './session-wire.js'
import { ownBuffer } from './session-wire.js'
import { STAGED_ARRAYS, type StagedType } from './staging.js'

/** A run's feeds: staged inputs become views over the slot's buffer (no copy). */
function feedsOf(inputs: WireInput[], buffer: SharedArrayBuffer | undefined): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {}
  for (const input of inputs) {
    let data: unknown = input.data
    if (data === undefined) {
      if (buffer === undefined)
        throw new Error(`input ${input.name} is staged but the thread has no buffer for it`)
      data = new STAGED_ARRAYS[input.type as StagedType](buffer, input.offset, input.length)
    }
    feeds[input.name] = new ort.Tensor(input.type, data as never, input.dims)
  }
  return feeds
}

/** Most warm-up runs timed for runOn 'auto' (after the untimed first). */
const WARM_UP_TRIES = 5

/**
 * The warm-up: runs `run` once, which proves the model runs, and with `timeAgainstMs` > 0 (runOn
 * 'auto') times up to WARM_UP_TRIES more and returns the best time (infinity when untimed). The
 * first run is not timed: it pays one-time costs, onnxruntime's first allocations and this fresh
 * thread's JavaScript not yet compiled (measured for blend: 6–11 ms, against 0.05–0.2 ms after).
 * More than one timed try because one slow run may be the thread being descheduled on a busy
 * machine; it stops at the first run under `timeAgainstMs`, or once two runs show the model is
 * clearly heavy (10× over).
 */
async function timeWarmUp(run: () => Promise<unknown>, timeAgainstMs: number): Promise<number> {
  await run()
  let best = Number.POSITIVE_INFINITY
  if (timeAgainstMs <= 0) return best
  for (let i = 0; i < WARM_UP_TRIES; i++) {
    if (i > 0 && (best < timeAgainstMs || (i >= 2 && best >= 10 * timeAgainstMs))) break
    const t0 = performance.now()
    await run()
    best = Math.min(best, performance.now() - t0)
  }
  return best
}

/** Opens the session (after the warm-up, if asked for one); undefined once the thread has answered it will not serve. */
async function open(port: MessagePort, init: ThreadInit): Promise<ort.InferenceSession | undefined> {
  const fail = (stage: 'open' | 'warm-up', err: unknown) => {
    port.postMessage({ op: 'open-failed', stage, message: (err as Error).message } satisfies ThreadReply)
    port.close()
    return undefined
  }
  // Before ready the only message the caller sends is 'release', when it gave up waiting (its
  // open deadline passed): the thread then stops at the next step instead of opening for nobody.
  const givenUp = () => receiveMessageOnPort(port) !== undefined
  // Shared model bytes become this thread's own once, here, not on the main thread.
  const model = ortModelBytes(init.model)
  if (init.warmUp !== undefined) {
    // On a probe session released afterwards (see ThreadInit.warmUp).
    let probe: ort.InferenceSession
    try {
      probe = await openOrtSession(model, init.sessionOptions)
    } catch (err) {
      return fail('open', err)
    }
    let best: number
    try {
      const feeds = feedsOf(init.warmUp.inputs, undefined)
      best = await timeWarmUp(() => probe.run(feeds), init.warmUp.mainBelowMs)
    } catch (err) {
      return fail('warm-up', err)
    } finally {
      await probe.release()
    }
    if (givenUp()) {
      port.close()
      return undefined
    }
    if (best < init.warmUp.mainBelowMs) {
      port.postMessage({ op: 'stays-main' } satisfies ThreadReply)
      port.close()
      return undefined
    }
  }
  let session: ort.InferenceSession
  try {
    session = await openOrtSession(model, init.sessionOptions)
  } catch (err) {
    return fail('open', err)
  }
  if (givenUp()) {
    await session.release()
    port.close()
    return undefined
  }
  port.postMessage({
    op: 'ready',
    inputNames: session.inputNames,
    outputNames: session.outputNames,
  } satisfies ThreadReply)
  return session
}

async function serve(): Promise<void> {
  const port = parentPort
  if (port === null) return
  const session = await open(port, workerData as ThreadInit)
  if (session === undefined) return
  // The buffer each staging slot has now (a slot's buffer is replaced when it grows).
  const buffers: SharedArrayBuffer[] = []
  // One request at a time, in arrival order (onnxruntime would serialise them on this thread
  // anyway); each waiting run keeps the buffer its slot had when it arrived.
  const waiting: Array<{ request: RunRequest; buffer: SharedArrayBuffer | undefined } | 'release'> = []
  let busy = false
  let polling = false

  const pollMs = (workerData as ThreadInit).pollAfterRunMs ?? 0
  const answer = (reply: ThreadReply, transfer: ArrayBuffer[] = []) => {
    port.postMessage(reply, transfer)
    busy = false
    next()
    if (!busy && !polling && pollMs > 0) poll(pollMs)
  }
  // A caller that runs frames one after another sends the next request right after it reads this
  // reply. A thread asleep in its event loop then needs a wake-up, which costs 30-80 µs on a VM
  // (a few per cent of a 2 ms run); checking the port for a short while catches the request awake.
  const poll = (ms: number): void => {
    const until = performance.now() + ms
    polling = true
    while (!busy && performance.now() < until) {
      const got = receiveMessageOnPort(port)
      if (got !== undefined) receive(got.message as ThreadRequest)
    }
    polling = false
  }
  const next = (): void => {
    if (busy) return
    const item = waiting.shift()
    if (item === undefined) return
    busy = true
    if (item === 'release') {
      void session.release().finally(() => port.close())
      return
    }
    const { request, buffer } = item
    let feeds: Record<string, ort.Tensor>
    try {
      feeds = feedsOf(request.inputs, buffer)
    } catch (err) {
      answer({ op: 'failed', id: request.id, message: (err as Error).message })
      return
    }
    session.run(feeds).then(
      (results) => {
        const outputs: Record<string, WireTensor> = {}
        const transfer: ArrayBuffer[] = []
        for (const [name, t] of Object.entries(results)) {
          outputs[name] = { type: t.type, dims: t.dims, data: t.data }
          const own = ownBuffer(t.data)
          if (own !== undefined && !transfer.includes(own)) transfer.push(own)
        }
        answer({ op: 'result', id: request.id, outputs }, transfer)
      },
      (err: unknown) => answer({ op: 'failed', id: request.id, message: (err as Error).message }),
    )
  }

  const receive = (request: ThreadRequest): void => {
    if (request.op === 'cancel') {
      // A run the caller gave up on before it started leaves at once; one already running (or
      // done) cannot be stopped and answers as usual.
      const i = waiting.findIndex((w) => w !== 'release' && w.request.id === request.id)
      if (i !== -1) {
        waiting.splice(i, 1)
        port.postMessage({ op: 'skipped', id: request.id } satisfies ThreadReply)
      }
      return
    }
    if (request.op === 'release') waiting.push('release')
    else {
      if (request.slot !== undefined && request.buffer !== undefined) buffers[request.slot] = request.buffer
      waiting.push({ request, buffer: request.slot === undefined ? undefined : buffers[request.slot] })
    }
    next()
  }
  port.on('message', receive)
}

await serve()
