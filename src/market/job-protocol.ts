/**
 * PROTOCOLS.job message types and the conversions between wire messages and typed values:
 * frames as raw rgb24 images, ticket batches with their params. Checks happen here, where bytes
 * enter; the handler and the session work with typed values.
 */
import { createHash } from 'node:crypto'
import type { Frame, TextLine } from '../inference/types.js'
import { messageType } from '../peer/framing.js'
import { MAX_MESSAGE_BYTES } from '../peer/protocols.js'
import { bytesToHex, hexToBytes } from '../tickets/bytes.js'
import type { Address, Hex, TicketBatch } from '../tickets/ticket.js'
import { framesPerItem, type WorkInput } from './job-work.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import {
  type Image,
  JobClientMessage,
  JobServerMessage,
  type TextLine as PbTextLine,
  type TicketBatchMessage,
} from './pb/job.js'
import { decodeTicketParams, encodeTicketParams, type JobSpec } from './quote.js'

/** Broadcaster → orchestrator on a job stream. */
export const JOB_CLIENT_MESSAGE = messageType(
  'JobClientMessage',
  JobClientMessage,
  MAX_MESSAGE_BYTES.jobMessage,
)
/** Orchestrator → broadcaster on a job stream. */
export const JOB_SERVER_MESSAGE = messageType(
  'JobServerMessage',
  JobServerMessage,
  MAX_MESSAGE_BYTES.jobMessage,
)

/** What a job message holds besides an item's pixels (seq, sizes, fields). */
const JOB_MESSAGE_OVERHEAD_BYTES = 1_024

/** Most pixels one item's image may have so that a message of `bytesPerPixel` each still fits. */
export function maxItemPixels(bytesPerPixel: number): number {
  return Math.floor((MAX_MESSAGE_BYTES.jobMessage - JOB_MESSAGE_OVERHEAD_BYTES) / bytesPerPixel)
}

/** Most tickets one batch message may carry (the recipient's own cap is 1,000). */
export const MAX_TICKETS_PER_MESSAGE = 1_000

export function frameToImage(frame: Frame): Image {
  return { width: frame.width, height: frame.height, data: frame.data as Uint8Array<ArrayBuffer> }
}

/** An image from the wire as a frame: its bytes must be exactly width × height × 3. */
export function imageToFrame(image: Image, what: string): Frame {
  const expected = image.width * image.height * 3
  if (image.width < 1 || image.height < 1 || image.data.byteLength !== expected) {
    throw new JobError(
      JOB_ERROR_CODES.badWorkItem,
      `${what} is ${image.width}x${image.height} with ${image.data.byteLength} bytes; rgb24 needs width*height*3 = ${expected}`,
    )
  }
  return { width: image.width, height: image.height, channels: 3, data: image.data }
}

/**
 * Confirmed feeds and direct-workflow verification: sha256 over width and height (4 bytes each,
 * big-endian) and the rgb24 bytes. Two frames have the same digest only if they are identical.
 */
export function frameDigest(frame: Pick<Frame, 'width' | 'height' | 'data'>): Uint8Array<ArrayBuffer> {
  const dims = new Uint8Array(8)
  const view = new DataView(dims.buffer)
  view.setUint32(0, frame.width)
  view.setUint32(4, frame.height)
  return new Uint8Array(createHash('sha256').update(dims).update(frame.data).digest())
}

/** Most text lines one ocr result may carry, and the longest line: far above any real frame's text. */
export const MAX_TEXT_LINES = 10_000
export const MAX_TEXT_LINE_CHARS = 4_096

export function linesToPb(lines: readonly TextLine[]): PbTextLine[] {
  return lines.map((l) => ({ text: l.text, confidence: l.confidence, box: l.box.flat() }))
}

/** Text lines from the wire: each needs an 8-number box and a confidence in 0..1. */
export function linesFromPb(lines: readonly PbTextLine[], what: string): TextLine[] {
  const bad = (why: string): never => {
    throw new JobError(JOB_ERROR_CODES.protocolViolation, `${what}: ${why}`)
  }
  if (lines.length > MAX_TEXT_LINES) bad(`${lines.length} text lines, over ${MAX_TEXT_LINES}`)
  return lines.map((l, i) => {
    if (l.text.length > MAX_TEXT_LINE_CHARS) bad(`line ${i} is over ${MAX_TEXT_LINE_CHARS} characters`)
    if (!(l.confidence >= 0 && l.confidence <= 1)) bad(`line ${i} has confidence ${l.confidence}, not 0..1`)
    if (l.box.length !== 8 || !l.box.every(Number.isFinite)) bad(`line ${i} box needs 8 finite numbers`)
    const b = l.box
    return {
      text: l.text,
      confidence: l.confidence,
      box: [
        [b[0]!, b[1]!],
        [b[2]!, b[3]!],
        [b[4]!, b[5]!],
        [b[6]!, b[7]!],
      ],
    }
  })
}

export function ticketBatchToPb(batch: TicketBatch): TicketBatchMessage {
  return {
    sender: new Uint8Array(hexToBytes(batch.sender)),
    params: encodeTicketParams(batch.params),
    tickets: batch.tickets.map((t) => ({
      senderNonce: t.senderNonce,
      signature: new Uint8Array(hexToBytes(t.signature)),
    })),
  }
}

export function ticketBatchFromPb(pb: TicketBatchMessage): TicketBatch {
  if (pb.sender.byteLength !== 20) {
    throw new JobError(JOB_ERROR_CODES.paymentRejected, 'a ticket batch must name a 20-byte sender')
  }
  if (pb.tickets.length === 0 || pb.tickets.length > MAX_TICKETS_PER_MESSAGE) {
    throw new JobError(
      JOB_ERROR_CODES.paymentRejected,
      `a ticket batch holds 1..${MAX_TICKETS_PER_MESSAGE} tickets, got ${pb.tickets.length}`,
    )
  }
  let params: TicketBatch['params']
  try {
    params = decodeTicketParams(pb.params)
  } catch (err) {
    throw new JobError(JOB_ERROR_CODES.paymentRejected, (err as Error).message, { cause: err })
  }
  return {
    sender: bytesToHex(pb.sender) as Address,
    params,
    tickets: pb.tickets.map((t) => ({
      senderNonce: t.senderNonce,
      signature: bytesToHex(t.signature) as Hex,
    })),
  }
}

/** A work message checked against the quote (order, frame count, frame size) as the engine's input. */
export function workItemFromPb(
  work: NonNullable<JobClientMessage['work']>,
  spec: Pick<JobSpec, 'pipeline' | 'width' | 'height'>,
  lastSeq: number,
): WorkInput {
  if (!Number.isSafeInteger(work.seq) || work.seq <= lastSeq) {
    throw new JobError(
      JOB_ERROR_CODES.badWorkItem,
      `work item seq ${work.seq} does not follow ${lastSeq}; number items in increasing order`,
    )
  }
  const need = framesPerItem(spec.pipeline)
  if (work.images.length !== need) {
    throw new JobError(
      JOB_ERROR_CODES.badWorkItem,
      `a ${spec.pipeline} work item carries ${need} image(s), not ${work.images.length}`,
    )
  }
  const frames: Frame[] = work.images.map((image, i) => {
    if (image.width !== spec.width || image.height !== spec.height) {
      throw new JobError(
        JOB_ERROR_CODES.frameSizeMismatch,
        `frame ${work.seq} is ${image.width}x${image.height}; the quote is for ${spec.width}x${spec.height}: ask a new quote for another size`,
      )
    }
    return imageToFrame(image, `frame ${work.seq}.${i}`)
  })
  return { seq: work.seq, frames, t: work.t }
}
