/**
 * A typed message channel over one libp2p stream: each message is an unsigned-varint length
 * prefix followed by that many bytes of protobuf. Every message type has a maximum size; a
 * length prefix above it ends the stream with ERR_MESSAGE_TOO_LARGE before the body is buffered,
 * and bytes that do not decode end it with ERR_MALFORMED_MESSAGE. Only that stream ends.
 *
 * Why not `lpStream` from @libp2p/utils: it cannot tell a clean end between messages from a
 * truncated one, and it keeps reading into its buffer whether or not anyone reads, so a fast
 * sender either overflows it (stream aborted) or makes us buffer without bound. This reader
 * pauses the stream (yamux then stops granting window) once more than max(one whole message,
 * 4 MiB) is buffered, and resumes when the reader wants more.
 */
import type { AbortOptions, Stream } from '@libp2p/interface'
import { type EncodeOptions, writer as protobufWriter, type Writer } from 'protons-runtime'
import { Uint8ArrayList } from 'uint8arraylist'
import { AbortedError, FramemeshError, TimeoutError } from '../errors.js'
import { MalformedMessageError, MessageTooLargeError, StreamEndedError } from './errors.js'
import { countProtocolError, type PeerMetrics } from './metrics.js'

/** The shape of a protons-generated message namespace (`Foo.encode`, `Foo.decode`). */
export interface MessageCodec<T> {
  encode(message: T): Uint8Array
  decode(bytes: Uint8Array | Uint8ArrayList): T
  /**
   * protons namespaces also expose the field codec, which writes the length prefix and the body
   * into one buffer: one chunk per message on the wire instead of two (see `frameMessage`).
   */
  codec?: () => { encode(message: T, writer: Writer, options?: EncodeOptions): void }
}

/** A message type on the wire: how to encode it and the largest encoding a peer may send. */
export interface MessageType<T> {
  /** For errors and logs, e.g. 'QuoteRequest'. */
  name: string
  codec: MessageCodec<T>
  /** Largest encoded size in bytes (without the length prefix); see MAX_MESSAGE_BYTES. */
  maxBytes: number
}

export function messageType<T>(
  name: string,
  // T comes from `decode`: protons' `encode` takes a Partial, which must not widen T.
  codec: {
    encode(message: NoInfer<T>): Uint8Array
    decode(bytes: Uint8Array | Uint8ArrayList): T
    codec?: () => { encode(message: NoInfer<T>, writer: Writer, options?: EncodeOptions): void }
  },
  maxBytes: number,
): MessageType<T> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new FramemeshError('ERR_INVALID_MESSAGE_TYPE', `maxBytes of ${name} must be a positive integer`)
  }
  return { name, codec, maxBytes }
}

export interface MessageChannel<In, Out> extends AsyncIterable<In> {
  readonly stream: Stream
  /**
   * The next message, or undefined when the remote closed its side cleanly between messages. With
   * `timeoutMs`, a read that gets no whole message by then fails with ERR_TIMEOUT (TimeoutError);
   * cheaper per message than a timeout signal, and no timer at all when a message is buffered.
   */
  read(options?: ReadOptions): Promise<In | undefined>
  /** Sends one message, waiting for the stream to drain when its send buffer is full. */
  write(message: Out, options?: AbortOptions): Promise<void>
  /**
   * Sends several messages as one chunk of the stream: the transport encrypts, writes and (yamux)
   * acknowledges them once instead of once each.
   */
  writeMany(messages: readonly Out[], options?: AbortOptions): Promise<void>
  /** Closes our writing side (the remote sees the end); reading goes on. */
  closeWrite(options?: AbortOptions): Promise<void>
  /** Ends the stream in both directions at once, with `error` as the reason. */
  abort(error: Error): void
}

export interface ReadOptions extends AbortOptions {
  /** Longest wait for the next message (ms). */
  timeoutMs?: number
}

export interface MessageChannelComponents {
  metrics?: PeerMetrics
}

/** Above this, a varint length prefix is not one we would ever accept. */
const MAX_VARINT_BYTES = 10

export function encodingLength(value: number): number {
  let n = 1
  for (let v = value; v >= 0x80; v = Math.floor(v / 128)) n++
  return n
}

export function encodeVarint(value: number): Uint8Array {
  const out = new Uint8Array(encodingLength(value))
  let v = value
  let i = 0
  while (v >= 0x80) {
    out[i++] = (v % 128) | 0x80
    v = Math.floor(v / 128)
  }
  out[i] = v
  return out
}

/**
 * One message as it goes on the wire: varint length prefix and body in a single buffer. Each
 * chunk handed to a libp2p stream costs the transport its own encryption call and socket write,
 * so a separate prefix chunk made every message one write dearer.
 */
export function frameMessage<T>(
  codec: MessageCodec<T>,
  message: T,
): { frame: Uint8Array; bodyBytes: number } {
  if (codec.codec !== undefined) {
    const w = protobufWriter()
    // Length-delimited is the field codec's default: it forks the writer and prefixes the length.
    codec.codec().encode(message, w, { lengthDelimited: true })
    const frame = w.finish()
    let prefix = 0
    while ((frame[prefix]! & 0x80) !== 0) prefix++
    return { frame, bodyBytes: frame.byteLength - prefix - 1 }
  }
  const body = codec.encode(message)
  const prefix = encodingLength(body.byteLength)
  const frame = new Uint8Array(prefix + body.byteLength)
  frame.set(encodeVarint(body.byteLength), 0)
  frame.set(body, prefix)
  return { frame, bodyBytes: body.byteLength }
}

/**
 * Reads an unsigned varint from the start of `buf`. Returns undefined when more bytes are needed,
 * or `tooLong` once more than `maxBytes` bytes were seen without the varint ending.
 */
export function decodeVarint(
  buf: Uint8ArrayList,
  maxBytes: number,
): { value: number; bytes: number } | 'tooLong' | undefined {
  let value = 0
  let scale = 1
  const limit = Math.min(buf.byteLength, maxBytes)
  for (let i = 0; i < limit; i++) {
    const byte = buf.get(i)
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) return { value, bytes: i + 1 }
    scale *= 128
  }
  return buf.byteLength >= maxBytes ? 'tooLong' : undefined
}

/** Opens a typed channel on `stream`: read `types.in` messages, write `types.out` messages. */
export function messageChannel<In, Out>(
  stream: Stream,
  types: { in: MessageType<In>; out: MessageType<Out> },
  components: MessageChannelComponents = {},
): MessageChannel<In, Out> {
  const metrics = components.metrics
  const inType = types.in
  const maxPrefixBytes = Math.min(encodingLength(inType.maxBytes), MAX_VARINT_BYTES)
  // Room for one whole message (and for small types a few MiB, so pausing is rare on fast links);
  // past it we pause the stream until the reader catches up.
  const pauseAbove = Math.max(inType.maxBytes + maxPrefixBytes, 4 * 1024 * 1024)
  const buffer = new Uint8ArrayList()
  let remoteEnded = false
  let failure: Error | undefined
  let wake: (() => void) | undefined

  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  const onMessage = (evt: { data: Uint8Array | Uint8ArrayList }) => {
    buffer.append(evt.data)
    if (buffer.byteLength > pauseAbove && stream.readStatus === 'readable') stream.pause()
    notify()
  }
  const onRemoteCloseWrite = () => {
    remoteEnded = true
    notify()
  }
  const onClose = (evt: Event) => {
    const error = (evt as Event & { error?: Error }).error
    if (error !== undefined && failure === undefined) failure = error
    remoteEnded = true
    notify()
  }
  stream.addEventListener('message', onMessage)
  stream.addEventListener('remoteCloseWrite', onRemoteCloseWrite)
  stream.addEventListener('close', onClose)

  // Data the stream held before we listened is dispatched to us shortly; until then it is not the end.
  const atEnd = () =>
    buffer.byteLength === 0 &&
    stream.readBufferLength === 0 &&
    (remoteEnded || stream.remoteWriteStatus !== 'writable' || stream.status !== 'open')

  const fail = (error: FramemeshError): never => {
    countProtocolError(metrics, stream.protocol ?? 'unknown', error)
    failure = error
    stream.abort(error)
    throw error
  }

  const tryTake = (): In | undefined => {
    const prefix = decodeVarint(buffer, maxPrefixBytes)
    if (prefix === undefined) return undefined
    if (prefix === 'tooLong' || prefix.value > inType.maxBytes) {
      return fail(
        new MessageTooLargeError(
          `${inType.name} message announced ${prefix === 'tooLong' ? 'an oversized' : `${prefix.value}-byte`} body, more than the ${inType.maxBytes}-byte limit; the stream was ended`,
          {
            type: inType.name,
            max: inType.maxBytes,
            ...(prefix === 'tooLong' ? {} : { bytes: prefix.value }),
          },
        ),
      )
    }
    const total = prefix.bytes + prefix.value
    if (buffer.byteLength < total) return undefined
    const body = buffer.sublist(prefix.bytes, total)
    buffer.consume(total)
    metrics?.framedBytes.inc({ direction: 'in' }, total)
    try {
      return inType.codec.decode(body)
    } catch (err) {
      return fail(
        new MalformedMessageError(
          `a ${inType.name} message did not decode (${(err as Error).message}); the stream was ended`,
          { cause: err, details: { type: inType.name } },
        ),
      )
    }
  }

  let reading = false
  const read = async (options?: ReadOptions): Promise<In | undefined> => {
    // One reader at a time: two would race for the same bytes.
    if (reading) {
      throw new FramemeshError(
        'ERR_CONCURRENT_READ',
        `a ${inType.name} read is already waiting on this channel; await it before reading again`,
      )
    }
    reading = true
    try {
      return await readNext(options)
    } finally {
      reading = false
    }
  }

  const readNext = async (options?: ReadOptions): Promise<In | undefined> => {
    const deadline = options?.timeoutMs === undefined ? undefined : performance.now() + options.timeoutMs
    while (true) {
      if (failure !== undefined && buffer.byteLength === 0) throw asFramemeshError(failure)
      const message = tryTake()
      if (message !== undefined) return message
      if (failure !== undefined) throw asFramemeshError(failure)
      if (atEnd()) return undefined
      if (remoteEnded && stream.readBufferLength === 0) {
        throw new StreamEndedError(
          `the remote ended the stream in the middle of a ${inType.name} message (${buffer.byteLength} bytes buffered)`,
          { type: inType.name },
        )
      }
      if (stream.readStatus === 'paused') stream.resume()
      await waitForData(options?.signal, deadline, options?.timeoutMs)
    }
  }

  const waitForData = (signal: AbortSignal | undefined, deadline?: number, timeoutMs?: number) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(new AbortedError(`reading ${inType.name} was aborted`))
        return
      }
      let timer: ReturnType<typeof setTimeout> | undefined
      const onAbort = () => {
        clearTimeout(timer)
        wake = undefined
        reject(new AbortedError(`reading ${inType.name} was aborted`))
      }
      if (deadline !== undefined) {
        const onTimeout = () => {
          signal?.removeEventListener('abort', onAbort)
          wake = undefined
          reject(new TimeoutError(`no ${inType.name} arrived within ${timeoutMs} ms`))
        }
        const left = deadline - performance.now()
        if (left <= 0) {
          onTimeout()
          return
        }
        // Like the AbortSignal.timeout it replaces, the timer alone does not keep Node running.
        timer = setTimeout(onTimeout, Math.ceil(left))
        timer.unref()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      wake = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
    })

  /** One message framed for the wire; our own oversized message is refused, the stream stays usable. */
  const framed = (message: Out): Uint8Array => {
    const { frame, bodyBytes } = frameMessage(types.out.codec, message)
    if (bodyBytes > types.out.maxBytes) {
      throw new MessageTooLargeError(
        `refusing to send a ${bodyBytes}-byte ${types.out.name}: the limit is ${types.out.maxBytes} bytes`,
        { type: types.out.name, bytes: bodyBytes, max: types.out.maxBytes },
      )
    }
    return frame
  }

  const send = async (chunk: Uint8Array, options?: AbortOptions): Promise<void> => {
    metrics?.framedBytes.inc({ direction: 'out' }, chunk.byteLength)
    try {
      if (!stream.send(chunk)) await stream.onDrain(options)
    } catch (err) {
      if (options?.signal?.aborted === true) throw new AbortedError(`writing ${types.out.name} was aborted`)
      throw new StreamEndedError(
        `cannot send ${types.out.name}: the stream is ${stream.status} (${(err as Error).message})`,
        { type: types.out.name },
      )
    }
  }

  return {
    stream,
    read,
    async write(message, options) {
      return send(framed(message), options)
    },
    async writeMany(messages, options) {
      if (messages.length === 1) return send(framed(messages[0]!), options)
      const frames = messages.map(framed)
      const chunk = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0))
      let at = 0
      for (const f of frames) {
        chunk.set(f, at)
        at += f.byteLength
      }
      return send(chunk, options)
    },
    async closeWrite(options) {
      await stream.close(options)
    },
    abort(error) {
      stream.abort(error)
    },
    async *[Symbol.asyncIterator]() {
      while (true) {
        const message = await read()
        if (message === undefined) return
        yield message
      }
    },
  }
}

function asFramemeshError(err: Error): FramemeshError {
  if (err instanceof FramemeshError) return err
  return new StreamEndedError(`the stream ended with an error: ${err.message}`, {
    reason: (err as { name?: string }).name,
  })
}
