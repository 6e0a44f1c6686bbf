/**
 * Streams a multipart/form-data upload to disk: files never sit whole in memory, each is sniffed
 * by content as it arrives, and anything refused (too large, wrong kind, client gone) leaves no
 * half-written file behind.
 */
import { randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { join } from 'node:path'
import busboy from 'busboy'
import { badRequest, HttpError, tooLarge, unsupportedMedia } from './http-error.js'
import { type MediaKind, SNIFF_BYTES, sniffMedia } from './sniff.js'

export interface UploadedFile {
  field: string
  filename: string
  path: string
  bytes: number
  media: MediaKind
}

export interface ParsedForm {
  fields: Record<string, string>
  files: UploadedFile[]
  /** Removes the files written for this request. */
  cleanup(): Promise<void>
}

export interface UploadOptions {
  /** Folder the files are written to (created if missing). */
  dir: string
  /** Largest accepted file, bytes. */
  maxFileBytes: number
  maxFiles?: number
  maxFields?: number
  /** Which kinds of media each file field may hold. */
  accept: Array<MediaKind['kind']>
  /**
   * Longest pause in the upload's bytes before it is given up with a 408 (default 60 s). There is
   * no cap on the whole upload's time: a large video over a slow link may take many minutes.
   */
  idleTimeoutMs?: number
}

export async function receiveUpload(req: IncomingMessage, options: UploadOptions): Promise<ParsedForm> {
  const type = req.headers['content-type'] ?? ''
  if (!type.toLowerCase().startsWith('multipart/form-data')) {
    throw unsupportedMedia(`expected a multipart/form-data body, got '${type || 'none'}'`)
  }
  await mkdir(options.dir, { recursive: true })
  const written: string[] = []
  const cleanup = async () => {
    await Promise.all(written.map((p) => rm(p, { force: true })))
  }
  try {
    return await parse(req, options, written, cleanup)
  } catch (err) {
    await cleanup()
    throw err
  }
}

function parse(
  req: IncomingMessage,
  options: UploadOptions,
  written: string[],
  cleanup: () => Promise<void>,
): Promise<ParsedForm> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy
    try {
      parser = busboy({
        headers: req.headers,
        limits: {
          fileSize: options.maxFileBytes,
          files: options.maxFiles ?? 4,
          fields: options.maxFields ?? 32,
          fieldSize: 64 * 1024,
        },
      })
    } catch (err) {
      reject(badRequest(`malformed multipart request: ${(err as Error).message}`))
      return
    }
    const fields: Record<string, string> = {}
    const files: UploadedFile[] = []
    const pending: Promise<void>[] = []
    /** File streams still being written: a failure ends them, so their files close. */
    const receiving = new Set<NodeJS.ReadableStream & { destroy(error?: Error): void }>()
    let failed = false
    const fail = (err: unknown) => {
      if (failed) return
      failed = true
      req.unpipe(parser)
      req.resume()
      // Once unpiped, an open file stream would wait for data for ever (and its file would stay
      // open, or be created after the clean-up removed it). End them, and answer only when every
      // file is closed, so the clean-up that follows finds and removes each one.
      for (const stream of receiving) stream.destroy(err instanceof Error ? err : new Error(String(err)))
      void Promise.allSettled(pending).then(() => reject(err))
    }

    parser.on('field', (name, value) => {
      fields[name] = value
    })
    parser.on('file', (field, stream, info) => {
      const path = join(options.dir, `${randomUUID()}.upload`)
      written.push(path)
      receiving.add(stream)
      pending.push(
        saveFile(stream, path, options).then(
          ({ bytes, media }) => {
            receiving.delete(stream)
            files.push({ field, filename: info.filename ?? '', path, bytes, media })
          },
          (err) => {
            receiving.delete(stream)
            stream.resume()
            fail(err)
          },
        ),
      )
    })
    parser.on('filesLimit', () => fail(badRequest(`too many files; at most ${options.maxFiles ?? 4}`)))
    parser.on('error', (err: Error) => fail(badRequest(`malformed multipart request: ${err.message}`)))
    parser.on('close', () => {
      Promise.all(pending).then(() => {
        if (!failed) resolve({ fields, files, cleanup })
      }, fail)
    })
    req.on('aborted', () => fail(new HttpError(400, 'ERR_CLIENT_ABORTED', 'the client went away mid-upload')))
    const idleMs = options.idleTimeoutMs ?? 60_000
    let idle: ReturnType<typeof setTimeout> | undefined
    const stalled = () =>
      fail(
        new HttpError(
          408,
          'ERR_UPLOAD_STALLED',
          `no bytes of the upload arrived for ${idleMs / 1000} s; it was given up, send it again`,
        ),
      )
    const rearm = () => {
      clearTimeout(idle)
      if (!failed) idle = setTimeout(stalled, idleMs)
    }
    req.on('data', rearm)
    req.once('end', () => clearTimeout(idle))
    parser.once('close', () => clearTimeout(idle))
    rearm()
    req.pipe(parser)
  })
}

async function saveFile(
  stream: NodeJS.ReadableStream & { truncated?: boolean },
  path: string,
  options: UploadOptions,
): Promise<{ bytes: number; media: MediaKind }> {
  const out = createWriteStream(path)
  let bytes = 0
  let head: Uint8Array = new Uint8Array(0)
  let media: MediaKind | undefined
  let limitHit = false
  stream.on('limit', () => {
    limitHit = true
  })
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (media === undefined) {
        head = concat(head, chunk)
        if (head.length >= SNIFF_BYTES) media = checkKind(head, options)
      }
      bytes += chunk.length
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
    }
    if (limitHit) throw tooLarge(`the file is larger than the ${options.maxFileBytes} byte limit`)
    if (media === undefined) media = checkKind(head, options)
    return { bytes, media }
  } finally {
    await new Promise<void>((r) => out.end(r))
  }
}

function checkKind(head: Uint8Array, options: UploadOptions): MediaKind {
  const media = sniffMedia(head)
  if (media === undefined) {
    throw unsupportedMedia('the upload is not a PNG, JPEG or WebP image nor an MP4, WebM or AVI video')
  }
  if (!options.accept.includes(media.kind)) {
    throw unsupportedMedia(
      `this route takes ${options.accept.join(' or ')} uploads, not ${media.kind} (${media.format})`,
    )
  }
  return media
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}
