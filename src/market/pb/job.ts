import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Image {
  width: number
  height: number
  data: Uint8Array<ArrayBuffer>
}

export namespace Image {
  let _codec: Codec<Image, Partial<Image>>

  export const codec = (): Codec<Image, Partial<Image>> => {
    if (_codec == null) {
      _codec = message<Image, Partial<Image>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.width != null && obj.width !== 0)) {
          w.uint32(8)
          w.uint32(obj.width)
        }

        if ((obj.height != null && obj.height !== 0)) {
          w.uint32(16)
          w.uint32(obj.height)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.data)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          width: 0,
          height: 0,
          data: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.width = reader.uint32()
              break
            }
            case 2: {
              obj.height = reader.uint32()
              break
            }
            case 3: {
              obj.data = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.width`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.height`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ImageWidthFieldEvent {
    field: '$.width'
    value: number
  }

  export interface ImageHeightFieldEvent {
    field: '$.height'
    value: number
  }

  export interface ImageDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Image>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Image.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Image>): Image {
    return decodeMessage(buf, Image.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Image>): Generator<ImageWidthFieldEvent | ImageHeightFieldEvent | ImageDataFieldEvent> {
    return streamMessage(buf, Image.codec(), opts)
  }
}

export interface Forward {
  peerId: string
  quoteId: string
  addrs: Uint8Array<ArrayBuffer>[]
  pipeline: string
  firstSeq?: number
}

export namespace Forward {
  let _codec: Codec<Forward, Partial<Forward>>

  export const codec = (): Codec<Forward, Partial<Forward>> => {
    if (_codec == null) {
      _codec = message<Forward, Partial<Forward>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peerId != null && obj.peerId !== '')) {
          w.uint32(10)
          w.string(obj.peerId)
        }

        if ((obj.quoteId != null && obj.quoteId !== '')) {
          w.uint32(18)
          w.string(obj.quoteId)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(26)
            w.bytes(value)
          }
        }

        if ((obj.pipeline != null && obj.pipeline !== '')) {
          w.uint32(34)
          w.string(obj.pipeline)
        }

        if (obj.firstSeq != null) {
          w.uint32(40)
          w.uint64Number(obj.firstSeq)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peerId: '',
          quoteId: '',
          addrs: [],
          pipeline: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peerId = reader.string()
              break
            }
            case 2: {
              obj.quoteId = reader.string()
              break
            }
            case 3: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            case 4: {
              obj.pipeline = reader.string()
              break
            }
            case 5: {
              obj.firstSeq = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.peerId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.quoteId`,
                value: reader.string()
              }
              break
            }
            case 3: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.pipeline`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.firstSeq`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ForwardPeerIdFieldEvent {
    field: '$.peerId'
    value: string
  }

  export interface ForwardQuoteIdFieldEvent {
    field: '$.quoteId'
    value: string
  }

  export interface ForwardAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ForwardPipelineFieldEvent {
    field: '$.pipeline'
    value: string
  }

  export interface ForwardFirstSeqFieldEvent {
    field: '$.firstSeq'
    value: number
  }

  export function encode (obj: Partial<Forward>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Forward.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Forward>): Forward {
    return decodeMessage(buf, Forward.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Forward>): Generator<ForwardPeerIdFieldEvent | ForwardQuoteIdFieldEvent | ForwardAddrsFieldEvent | ForwardPipelineFieldEvent | ForwardFirstSeqFieldEvent> {
    return streamMessage(buf, Forward.codec(), opts)
  }
}

export interface JobOpen {
  quoteId: string
  window: number
  forward?: Forward
  feed?: boolean
  digests?: boolean
  replaceable?: boolean
}

export namespace JobOpen {
  let _codec: Codec<JobOpen, Partial<JobOpen>>

  export const codec = (): Codec<JobOpen, Partial<JobOpen>> => {
    if (_codec == null) {
      _codec = message<JobOpen, Partial<JobOpen>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.quoteId != null && obj.quoteId !== '')) {
          w.uint32(10)
          w.string(obj.quoteId)
        }

        if ((obj.window != null && obj.window !== 0)) {
          w.uint32(16)
          w.uint32(obj.window)
        }

        if (obj.forward != null) {
          w.uint32(26)
          Forward.codec().encode(obj.forward, w)
        }

        if (obj.feed != null) {
          w.uint32(32)
          w.bool(obj.feed)
        }

        if (obj.digests != null) {
          w.uint32(40)
          w.bool(obj.digests)
        }

        if (obj.replaceable != null) {
          w.uint32(48)
          w.bool(obj.replaceable)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          quoteId: '',
          window: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.quoteId = reader.string()
              break
            }
            case 2: {
              obj.window = reader.uint32()
              break
            }
            case 3: {
              obj.forward = Forward.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.forward
              })
              break
            }
            case 4: {
              obj.feed = reader.bool()
              break
            }
            case 5: {
              obj.digests = reader.bool()
              break
            }
            case 6: {
              obj.replaceable = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.quoteId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.window`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield * Forward.codec().stream(reader, reader.uint32(), `${prefix}.forward`, {
                limits: opts.limits?.forward
              })

              break
            }
            case 4: {
              yield {
                field: `${prefix}.feed`,
                value: reader.bool()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.digests`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.replaceable`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface JobOpenQuoteIdFieldEvent {
    field: '$.quoteId'
    value: string
  }

  export interface JobOpenWindowFieldEvent {
    field: '$.window'
    value: number
  }

  export interface JobOpenForwardPeerIdFieldEvent {
    field: '$.forward.peerId'
    value: string
  }

  export interface JobOpenForwardQuoteIdFieldEvent {
    field: '$.forward.quoteId'
    value: string
  }

  export interface JobOpenForwardAddrsFieldEvent {
    field: '$.forward.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobOpenForwardPipelineFieldEvent {
    field: '$.forward.pipeline'
    value: string
  }

  export interface JobOpenForwardFirstSeqFieldEvent {
    field: '$.forward.firstSeq'
    value: number
  }

  export interface JobOpenFeedFieldEvent {
    field: '$.feed'
    value: boolean
  }

  export interface JobOpenDigestsFieldEvent {
    field: '$.digests'
    value: boolean
  }

  export interface JobOpenReplaceableFieldEvent {
    field: '$.replaceable'
    value: boolean
  }

  export function encode (obj: Partial<JobOpen>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, JobOpen.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobOpen>): JobOpen {
    return decodeMessage(buf, JobOpen.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobOpen>): Generator<JobOpenQuoteIdFieldEvent | JobOpenWindowFieldEvent | JobOpenForwardPeerIdFieldEvent | JobOpenForwardQuoteIdFieldEvent | JobOpenForwardAddrsFieldEvent | JobOpenForwardPipelineFieldEvent | JobOpenForwardFirstSeqFieldEvent | JobOpenFeedFieldEvent | JobOpenDigestsFieldEvent | JobOpenReplaceableFieldEvent> {
    return streamMessage(buf, JobOpen.codec(), opts)
  }
}

export interface Refeed {
  feeder: string
}

export namespace Refeed {
  let _codec: Codec<Refeed, Partial<Refeed>>

  export const codec = (): Codec<Refeed, Partial<Refeed>> => {
    if (_codec == null) {
      _codec = message<Refeed, Partial<Refeed>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.feeder != null && obj.feeder !== '')) {
          w.uint32(10)
          w.string(obj.feeder)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          feeder: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.feeder = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.feeder`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RefeedFeederFieldEvent {
    field: '$.feeder'
    value: string
  }

  export function encode (obj: Partial<Refeed>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Refeed.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Refeed>): Refeed {
    return decodeMessage(buf, Refeed.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Refeed>): Generator<RefeedFeederFieldEvent> {
    return streamMessage(buf, Refeed.codec(), opts)
  }
}

export interface WorkItem {
  seq: number
  images: Image[]
  t: number
}

export namespace WorkItem {
  let _codec: Codec<WorkItem, Partial<WorkItem>>

  export const codec = (): Codec<WorkItem, Partial<WorkItem>> => {
    if (_codec == null) {
      _codec = message<WorkItem, Partial<WorkItem>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seq != null && obj.seq !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.seq)
        }

        if (obj.images != null && obj.images.length > 0) {
          for (const value of obj.images) {
            w.uint32(18)
            Image.codec().encode(value, w)
          }
        }

        if ((obj.t != null && obj.t !== 0)) {
          w.uint32(29)
          w.float(obj.t)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seq: 0,
          images: [],
          t: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seq = reader.uint64Number()
              break
            }
            case 2: {
              if (opts.limits?.images != null && obj.images.length === opts.limits.images) {
                throw new MaxLengthError('Decode error - repeated field "images" had too many elements')
              }

              obj.images.push(Image.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.images$
              }))
              break
            }
            case 3: {
              obj.t = reader.float()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          images: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64Number()
              }
              break
            }
            case 2: {
              if (opts.limits?.images != null && obj.images === opts.limits.images) {
                throw new MaxLengthError('Streaming decode error - repeated field "images" had too many elements')
              }

              for (const evt of Image.codec().stream(reader, reader.uint32(), `${prefix}.images[]`, {
                limits: opts.limits?.images$
              })) {
                yield {
                  ...evt,
                  index: obj.images
                }
              }

              obj.images++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.t`,
                value: reader.float()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface WorkItemSeqFieldEvent {
    field: '$.seq'
    value: number
  }

  export interface WorkItemImagesWidthFieldEvent {
    field: '$.images[].width'
    value: number
    index: number
  }

  export interface WorkItemImagesHeightFieldEvent {
    field: '$.images[].height'
    value: number
    index: number
  }

  export interface WorkItemImagesDataFieldEvent {
    field: '$.images[].data'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface WorkItemTFieldEvent {
    field: '$.t'
    value: number
  }

  export function encode (obj: Partial<WorkItem>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, WorkItem.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<WorkItem>): WorkItem {
    return decodeMessage(buf, WorkItem.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<WorkItem>): Generator<WorkItemSeqFieldEvent | WorkItemImagesWidthFieldEvent | WorkItemImagesHeightFieldEvent | WorkItemImagesDataFieldEvent | WorkItemTFieldEvent> {
    return streamMessage(buf, WorkItem.codec(), opts)
  }
}

export interface Ticket {
  senderNonce: number
  signature: Uint8Array<ArrayBuffer>
}

export namespace Ticket {
  let _codec: Codec<Ticket, Partial<Ticket>>

  export const codec = (): Codec<Ticket, Partial<Ticket>> => {
    if (_codec == null) {
      _codec = message<Ticket, Partial<Ticket>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.senderNonce != null && obj.senderNonce !== 0)) {
          w.uint32(8)
          w.uint32(obj.senderNonce)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          senderNonce: 0,
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.senderNonce = reader.uint32()
              break
            }
            case 2: {
              obj.signature = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.senderNonce`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TicketSenderNonceFieldEvent {
    field: '$.senderNonce'
    value: number
  }

  export interface TicketSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Ticket>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Ticket.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ticket>): Ticket {
    return decodeMessage(buf, Ticket.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ticket>): Generator<TicketSenderNonceFieldEvent | TicketSignatureFieldEvent> {
    return streamMessage(buf, Ticket.codec(), opts)
  }
}

export interface TicketBatchMessage {
  sender: Uint8Array<ArrayBuffer>
  params: Uint8Array<ArrayBuffer>
  tickets: Ticket[]
}

export namespace TicketBatchMessage {
  let _codec: Codec<TicketBatchMessage, Partial<TicketBatchMessage>>

  export const codec = (): Codec<TicketBatchMessage, Partial<TicketBatchMessage>> => {
    if (_codec == null) {
      _codec = message<TicketBatchMessage, Partial<TicketBatchMessage>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.sender != null && obj.sender.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.sender)
        }

        if ((obj.params != null && obj.params.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.params)
        }

        if (obj.tickets != null && obj.tickets.length > 0) {
          for (const value of obj.tickets) {
            w.uint32(26)
            Ticket.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          sender: uint8ArrayAlloc(0),
          params: uint8ArrayAlloc(0),
          tickets: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.sender = reader.bytes()
              break
            }
            case 2: {
              obj.params = reader.bytes()
              break
            }
            case 3: {
              if (opts.limits?.tickets != null && obj.tickets.length === opts.limits.tickets) {
                throw new MaxLengthError('Decode error - repeated field "tickets" had too many elements')
              }

              obj.tickets.push(Ticket.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.tickets$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          tickets: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.sender`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.params`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              if (opts.limits?.tickets != null && obj.tickets === opts.limits.tickets) {
                throw new MaxLengthError('Streaming decode error - repeated field "tickets" had too many elements')
              }

              for (const evt of Ticket.codec().stream(reader, reader.uint32(), `${prefix}.tickets[]`, {
                limits: opts.limits?.tickets$
              })) {
                yield {
                  ...evt,
                  index: obj.tickets
                }
              }

              obj.tickets++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TicketBatchMessageSenderFieldEvent {
    field: '$.sender'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TicketBatchMessageParamsFieldEvent {
    field: '$.params'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TicketBatchMessageTicketsSenderNonceFieldEvent {
    field: '$.tickets[].senderNonce'
    value: number
    index: number
  }

  export interface TicketBatchMessageTicketsSignatureFieldEvent {
    field: '$.tickets[].signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<TicketBatchMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TicketBatchMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TicketBatchMessage>): TicketBatchMessage {
    return decodeMessage(buf, TicketBatchMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TicketBatchMessage>): Generator<TicketBatchMessageSenderFieldEvent | TicketBatchMessageParamsFieldEvent | TicketBatchMessageTicketsSenderNonceFieldEvent | TicketBatchMessageTicketsSignatureFieldEvent> {
    return streamMessage(buf, TicketBatchMessage.codec(), opts)
  }
}

export interface Confirm {
  seq: number
  digest: Uint8Array<ArrayBuffer>
}

export namespace Confirm {
  let _codec: Codec<Confirm, Partial<Confirm>>

  export const codec = (): Codec<Confirm, Partial<Confirm>> => {
    if (_codec == null) {
      _codec = message<Confirm, Partial<Confirm>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seq != null && obj.seq !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.seq)
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.digest)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seq: 0,
          digest: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seq = reader.uint64Number()
              break
            }
            case 2: {
              obj.digest = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64Number()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ConfirmSeqFieldEvent {
    field: '$.seq'
    value: number
  }

  export interface ConfirmDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Confirm>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Confirm.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Confirm>): Confirm {
    return decodeMessage(buf, Confirm.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Confirm>): Generator<ConfirmSeqFieldEvent | ConfirmDigestFieldEvent> {
    return streamMessage(buf, Confirm.codec(), opts)
  }
}

export interface JobClientMessage {
  open?: JobOpen
  work?: WorkItem
  tickets?: TicketBatchMessage
  end: boolean
  confirm?: Confirm
  reforward?: Forward
  refeed?: Refeed
}

export namespace JobClientMessage {
  let _codec: Codec<JobClientMessage, Partial<JobClientMessage>>

  export const codec = (): Codec<JobClientMessage, Partial<JobClientMessage>> => {
    if (_codec == null) {
      _codec = message<JobClientMessage, Partial<JobClientMessage>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.open != null) {
          w.uint32(10)
          JobOpen.codec().encode(obj.open, w)
        }

        if (obj.work != null) {
          w.uint32(18)
          WorkItem.codec().encode(obj.work, w)
        }

        if (obj.tickets != null) {
          w.uint32(26)
          TicketBatchMessage.codec().encode(obj.tickets, w)
        }

        if ((obj.end != null && obj.end !== false)) {
          w.uint32(32)
          w.bool(obj.end)
        }

        if (obj.confirm != null) {
          w.uint32(42)
          Confirm.codec().encode(obj.confirm, w)
        }

        if (obj.reforward != null) {
          w.uint32(50)
          Forward.codec().encode(obj.reforward, w)
        }

        if (obj.refeed != null) {
          w.uint32(58)
          Refeed.codec().encode(obj.refeed, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          end: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.open = JobOpen.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.open
              })
              break
            }
            case 2: {
              obj.work = WorkItem.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.work
              })
              break
            }
            case 3: {
              obj.tickets = TicketBatchMessage.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.tickets
              })
              break
            }
            case 4: {
              obj.end = reader.bool()
              break
            }
            case 5: {
              obj.confirm = Confirm.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.confirm
              })
              break
            }
            case 6: {
              obj.reforward = Forward.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.reforward
              })
              break
            }
            case 7: {
              obj.refeed = Refeed.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.refeed
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * JobOpen.codec().stream(reader, reader.uint32(), `${prefix}.open`, {
                limits: opts.limits?.open
              })

              break
            }
            case 2: {
              yield * WorkItem.codec().stream(reader, reader.uint32(), `${prefix}.work`, {
                limits: opts.limits?.work
              })

              break
            }
            case 3: {
              yield * TicketBatchMessage.codec().stream(reader, reader.uint32(), `${prefix}.tickets`, {
                limits: opts.limits?.tickets
              })

              break
            }
            case 4: {
              yield {
                field: `${prefix}.end`,
                value: reader.bool()
              }
              break
            }
            case 5: {
              yield * Confirm.codec().stream(reader, reader.uint32(), `${prefix}.confirm`, {
                limits: opts.limits?.confirm
              })

              break
            }
            case 6: {
              yield * Forward.codec().stream(reader, reader.uint32(), `${prefix}.reforward`, {
                limits: opts.limits?.reforward
              })

              break
            }
            case 7: {
              yield * Refeed.codec().stream(reader, reader.uint32(), `${prefix}.refeed`, {
                limits: opts.limits?.refeed
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface JobClientMessageOpenQuoteIdFieldEvent {
    field: '$.open.quoteId'
    value: string
  }

  export interface JobClientMessageOpenWindowFieldEvent {
    field: '$.open.window'
    value: number
  }

  export interface JobClientMessageOpenForwardPeerIdFieldEvent {
    field: '$.open.forward.peerId'
    value: string
  }

  export interface JobClientMessageOpenForwardQuoteIdFieldEvent {
    field: '$.open.forward.quoteId'
    value: string
  }

  export interface JobClientMessageOpenForwardAddrsFieldEvent {
    field: '$.open.forward.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobClientMessageOpenForwardPipelineFieldEvent {
    field: '$.open.forward.pipeline'
    value: string
  }

  export interface JobClientMessageOpenForwardFirstSeqFieldEvent {
    field: '$.open.forward.firstSeq'
    value: number
  }

  export interface JobClientMessageOpenFeedFieldEvent {
    field: '$.open.feed'
    value: boolean
  }

  export interface JobClientMessageOpenDigestsFieldEvent {
    field: '$.open.digests'
    value: boolean
  }

  export interface JobClientMessageOpenReplaceableFieldEvent {
    field: '$.open.replaceable'
    value: boolean
  }

  export interface JobClientMessageWorkSeqFieldEvent {
    field: '$.work.seq'
    value: number
  }

  export interface JobClientMessageWorkImagesWidthFieldEvent {
    field: '$.work.images[].width'
    value: number
    index: number
  }

  export interface JobClientMessageWorkImagesHeightFieldEvent {
    field: '$.work.images[].height'
    value: number
    index: number
  }

  export interface JobClientMessageWorkImagesDataFieldEvent {
    field: '$.work.images[].data'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface JobClientMessageWorkTFieldEvent {
    field: '$.work.t'
    value: number
  }

  export interface JobClientMessageTicketsSenderFieldEvent {
    field: '$.tickets.sender'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobClientMessageTicketsParamsFieldEvent {
    field: '$.tickets.params'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobClientMessageTicketsTicketsSenderNonceFieldEvent {
    field: '$.tickets.tickets[].senderNonce'
    value: number
    index: number
  }

  export interface JobClientMessageTicketsTicketsSignatureFieldEvent {
    field: '$.tickets.tickets[].signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface JobClientMessageEndFieldEvent {
    field: '$.end'
    value: boolean
  }

  export interface JobClientMessageConfirmSeqFieldEvent {
    field: '$.confirm.seq'
    value: number
  }

  export interface JobClientMessageConfirmDigestFieldEvent {
    field: '$.confirm.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobClientMessageReforwardPeerIdFieldEvent {
    field: '$.reforward.peerId'
    value: string
  }

  export interface JobClientMessageReforwardQuoteIdFieldEvent {
    field: '$.reforward.quoteId'
    value: string
  }

  export interface JobClientMessageReforwardAddrsFieldEvent {
    field: '$.reforward.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobClientMessageReforwardPipelineFieldEvent {
    field: '$.reforward.pipeline'
    value: string
  }

  export interface JobClientMessageReforwardFirstSeqFieldEvent {
    field: '$.reforward.firstSeq'
    value: number
  }

  export interface JobClientMessageRefeedFeederFieldEvent {
    field: '$.refeed.feeder'
    value: string
  }

  export function encode (obj: Partial<JobClientMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, JobClientMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobClientMessage>): JobClientMessage {
    return decodeMessage(buf, JobClientMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobClientMessage>): Generator<JobClientMessageOpenQuoteIdFieldEvent | JobClientMessageOpenWindowFieldEvent | JobClientMessageOpenForwardPeerIdFieldEvent | JobClientMessageOpenForwardQuoteIdFieldEvent | JobClientMessageOpenForwardAddrsFieldEvent | JobClientMessageOpenForwardPipelineFieldEvent | JobClientMessageOpenForwardFirstSeqFieldEvent | JobClientMessageOpenFeedFieldEvent | JobClientMessageOpenDigestsFieldEvent | JobClientMessageOpenReplaceableFieldEvent | JobClientMessageWorkSeqFieldEvent | JobClientMessageWorkImagesWidthFieldEvent | JobClientMessageWorkImagesHeightFieldEvent | JobClientMessageWorkImagesDataFieldEvent | JobClientMessageWorkTFieldEvent | JobClientMessageTicketsSenderFieldEvent | JobClientMessageTicketsParamsFieldEvent | JobClientMessageTicketsTicketsSenderNonceFieldEvent | JobClientMessageTicketsTicketsSignatureFieldEvent | JobClientMessageEndFieldEvent | JobClientMessageConfirmSeqFieldEvent | JobClientMessageConfirmDigestFieldEvent | JobClientMessageReforwardPeerIdFieldEvent | JobClientMessageReforwardQuoteIdFieldEvent | JobClientMessageReforwardAddrsFieldEvent | JobClientMessageReforwardPipelineFieldEvent | JobClientMessageReforwardFirstSeqFieldEvent | JobClientMessageRefeedFeederFieldEvent> {
    return streamMessage(buf, JobClientMessage.codec(), opts)
  }
}

export interface Accepted {
  jobId: string
  window: number
  nextSeq?: number
}

export namespace Accepted {
  let _codec: Codec<Accepted, Partial<Accepted>>

  export const codec = (): Codec<Accepted, Partial<Accepted>> => {
    if (_codec == null) {
      _codec = message<Accepted, Partial<Accepted>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.jobId != null && obj.jobId !== '')) {
          w.uint32(10)
          w.string(obj.jobId)
        }

        if ((obj.window != null && obj.window !== 0)) {
          w.uint32(16)
          w.uint32(obj.window)
        }

        if (obj.nextSeq != null) {
          w.uint32(24)
          w.uint64Number(obj.nextSeq)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          jobId: '',
          window: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.jobId = reader.string()
              break
            }
            case 2: {
              obj.window = reader.uint32()
              break
            }
            case 3: {
              obj.nextSeq = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.jobId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.window`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.nextSeq`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AcceptedJobIdFieldEvent {
    field: '$.jobId'
    value: string
  }

  export interface AcceptedWindowFieldEvent {
    field: '$.window'
    value: number
  }

  export interface AcceptedNextSeqFieldEvent {
    field: '$.nextSeq'
    value: number
  }

  export function encode (obj: Partial<Accepted>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Accepted.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Accepted>): Accepted {
    return decodeMessage(buf, Accepted.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Accepted>): Generator<AcceptedJobIdFieldEvent | AcceptedWindowFieldEvent | AcceptedNextSeqFieldEvent> {
    return streamMessage(buf, Accepted.codec(), opts)
  }
}

export interface CreditRequest {
  gapWei: string
  params: Uint8Array<ArrayBuffer>
}

export namespace CreditRequest {
  let _codec: Codec<CreditRequest, Partial<CreditRequest>>

  export const codec = (): Codec<CreditRequest, Partial<CreditRequest>> => {
    if (_codec == null) {
      _codec = message<CreditRequest, Partial<CreditRequest>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.gapWei != null && obj.gapWei !== '')) {
          w.uint32(10)
          w.string(obj.gapWei)
        }

        if ((obj.params != null && obj.params.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.params)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          gapWei: '',
          params: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.gapWei = reader.string()
              break
            }
            case 2: {
              obj.params = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.gapWei`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.params`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface CreditRequestGapWeiFieldEvent {
    field: '$.gapWei'
    value: string
  }

  export interface CreditRequestParamsFieldEvent {
    field: '$.params'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<CreditRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, CreditRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CreditRequest>): CreditRequest {
    return decodeMessage(buf, CreditRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CreditRequest>): Generator<CreditRequestGapWeiFieldEvent | CreditRequestParamsFieldEvent> {
    return streamMessage(buf, CreditRequest.codec(), opts)
  }
}

export interface TextLine {
  text: string
  confidence: number
  box: number[]
}

export namespace TextLine {
  let _codec: Codec<TextLine, Partial<TextLine>>

  export const codec = (): Codec<TextLine, Partial<TextLine>> => {
    if (_codec == null) {
      _codec = message<TextLine, Partial<TextLine>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.text != null && obj.text !== '')) {
          w.uint32(10)
          w.string(obj.text)
        }

        if ((obj.confidence != null && obj.confidence !== 0)) {
          w.uint32(17)
          w.double(obj.confidence)
        }

        if (obj.box != null && obj.box.length > 0) {
          for (const value of obj.box) {
            w.uint32(25)
            w.double(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          text: '',
          confidence: 0,
          box: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.text = reader.string()
              break
            }
            case 2: {
              obj.confidence = reader.double()
              break
            }
            case 3: {
              if (opts.limits?.box != null && obj.box.length === opts.limits.box) {
                throw new MaxLengthError('Decode error - repeated field "box" had too many elements')
              }

              obj.box.push(reader.double())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          box: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.text`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.confidence`,
                value: reader.double()
              }
              break
            }
            case 3: {
              if (opts.limits?.box != null && obj.box === opts.limits.box) {
                throw new MaxLengthError('Streaming decode error - repeated field "box" had too many elements')
              }

              yield {
                field: `${prefix}.box[]`,
                index: obj.box,
                value: reader.double()
              }

              obj.box++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TextLineTextFieldEvent {
    field: '$.text'
    value: string
  }

  export interface TextLineConfidenceFieldEvent {
    field: '$.confidence'
    value: number
  }

  export interface TextLineBoxFieldEvent {
    field: '$.box[]'
    index: number
    value: number
  }

  export function encode (obj: Partial<TextLine>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TextLine.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TextLine>): TextLine {
    return decodeMessage(buf, TextLine.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TextLine>): Generator<TextLineTextFieldEvent | TextLineConfidenceFieldEvent | TextLineBoxFieldEvent> {
    return streamMessage(buf, TextLine.codec(), opts)
  }
}

export interface Result {
  seq: number
  image?: Image
  json: Uint8Array<ArrayBuffer>
  debitedWei: string
  lines: TextLine[]
  digest?: Uint8Array<ArrayBuffer>
}

export namespace Result {
  let _codec: Codec<Result, Partial<Result>>

  export const codec = (): Codec<Result, Partial<Result>> => {
    if (_codec == null) {
      _codec = message<Result, Partial<Result>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seq != null && obj.seq !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.seq)
        }

        if (obj.image != null) {
          w.uint32(18)
          Image.codec().encode(obj.image, w)
        }

        if ((obj.json != null && obj.json.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.json)
        }

        if ((obj.debitedWei != null && obj.debitedWei !== '')) {
          w.uint32(34)
          w.string(obj.debitedWei)
        }

        if (obj.lines != null && obj.lines.length > 0) {
          for (const value of obj.lines) {
            w.uint32(42)
            TextLine.codec().encode(value, w)
          }
        }

        if (obj.digest != null) {
          w.uint32(50)
          w.bytes(obj.digest)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seq: 0,
          json: uint8ArrayAlloc(0),
          debitedWei: '',
          lines: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seq = reader.uint64Number()
              break
            }
            case 2: {
              obj.image = Image.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.image
              })
              break
            }
            case 3: {
              obj.json = reader.bytes()
              break
            }
            case 4: {
              obj.debitedWei = reader.string()
              break
            }
            case 5: {
              if (opts.limits?.lines != null && obj.lines.length === opts.limits.lines) {
                throw new MaxLengthError('Decode error - repeated field "lines" had too many elements')
              }

              obj.lines.push(TextLine.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.lines$
              }))
              break
            }
            case 6: {
              obj.digest = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          lines: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64Number()
              }
              break
            }
            case 2: {
              yield * Image.codec().stream(reader, reader.uint32(), `${prefix}.image`, {
                limits: opts.limits?.image
              })

              break
            }
            case 3: {
              yield {
                field: `${prefix}.json`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.debitedWei`,
                value: reader.string()
              }
              break
            }
            case 5: {
              if (opts.limits?.lines != null && obj.lines === opts.limits.lines) {
                throw new MaxLengthError('Streaming decode error - repeated field "lines" had too many elements')
              }

              for (const evt of TextLine.codec().stream(reader, reader.uint32(), `${prefix}.lines[]`, {
                limits: opts.limits?.lines$
              })) {
                yield {
                  ...evt,
                  index: obj.lines
                }
              }

              obj.lines++

              break
            }
            case 6: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ResultSeqFieldEvent {
    field: '$.seq'
    value: number
  }

  export interface ResultImageWidthFieldEvent {
    field: '$.image.width'
    value: number
  }

  export interface ResultImageHeightFieldEvent {
    field: '$.image.height'
    value: number
  }

  export interface ResultImageDataFieldEvent {
    field: '$.image.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ResultJsonFieldEvent {
    field: '$.json'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ResultDebitedWeiFieldEvent {
    field: '$.debitedWei'
    value: string
  }

  export interface ResultLinesTextFieldEvent {
    field: '$.lines[].text'
    value: string
    index: number
  }

  export interface ResultLinesConfidenceFieldEvent {
    field: '$.lines[].confidence'
    value: number
    index: number
  }

  export interface ResultLinesBoxFieldEvent {
    field: '$.lines[].box[]'
    index: number
    value: number
  }

  export interface ResultDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Result>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Result.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Result>): Result {
    return decodeMessage(buf, Result.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Result>): Generator<ResultSeqFieldEvent | ResultImageWidthFieldEvent | ResultImageHeightFieldEvent | ResultImageDataFieldEvent | ResultJsonFieldEvent | ResultDebitedWeiFieldEvent | ResultLinesTextFieldEvent | ResultLinesConfidenceFieldEvent | ResultLinesBoxFieldEvent | ResultDigestFieldEvent> {
    return streamMessage(buf, Result.codec(), opts)
  }
}

export interface TicketReceipt {
  accepted: number
  rejected: number
  creditedWei: string
  balanceWei: string
  rejectCode: string
}

export namespace TicketReceipt {
  let _codec: Codec<TicketReceipt, Partial<TicketReceipt>>

  export const codec = (): Codec<TicketReceipt, Partial<TicketReceipt>> => {
    if (_codec == null) {
      _codec = message<TicketReceipt, Partial<TicketReceipt>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.accepted != null && obj.accepted !== 0)) {
          w.uint32(8)
          w.uint32(obj.accepted)
        }

        if ((obj.rejected != null && obj.rejected !== 0)) {
          w.uint32(16)
          w.uint32(obj.rejected)
        }

        if ((obj.creditedWei != null && obj.creditedWei !== '')) {
          w.uint32(26)
          w.string(obj.creditedWei)
        }

        if ((obj.balanceWei != null && obj.balanceWei !== '')) {
          w.uint32(34)
          w.string(obj.balanceWei)
        }

        if ((obj.rejectCode != null && obj.rejectCode !== '')) {
          w.uint32(42)
          w.string(obj.rejectCode)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          accepted: 0,
          rejected: 0,
          creditedWei: '',
          balanceWei: '',
          rejectCode: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.accepted = reader.uint32()
              break
            }
            case 2: {
              obj.rejected = reader.uint32()
              break
            }
            case 3: {
              obj.creditedWei = reader.string()
              break
            }
            case 4: {
              obj.balanceWei = reader.string()
              break
            }
            case 5: {
              obj.rejectCode = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.accepted`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.rejected`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.creditedWei`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.balanceWei`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.rejectCode`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TicketReceiptAcceptedFieldEvent {
    field: '$.accepted'
    value: number
  }

  export interface TicketReceiptRejectedFieldEvent {
    field: '$.rejected'
    value: number
  }

  export interface TicketReceiptCreditedWeiFieldEvent {
    field: '$.creditedWei'
    value: string
  }

  export interface TicketReceiptBalanceWeiFieldEvent {
    field: '$.balanceWei'
    value: string
  }

  export interface TicketReceiptRejectCodeFieldEvent {
    field: '$.rejectCode'
    value: string
  }

  export function encode (obj: Partial<TicketReceipt>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TicketReceipt.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TicketReceipt>): TicketReceipt {
    return decodeMessage(buf, TicketReceipt.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TicketReceipt>): Generator<TicketReceiptAcceptedFieldEvent | TicketReceiptRejectedFieldEvent | TicketReceiptCreditedWeiFieldEvent | TicketReceiptBalanceWeiFieldEvent | TicketReceiptRejectCodeFieldEvent> {
    return streamMessage(buf, TicketReceipt.codec(), opts)
  }
}

export interface JobError {
  code: string
  message: string
}

export namespace JobError {
  let _codec: Codec<JobError, Partial<JobError>>

  export const codec = (): Codec<JobError, Partial<JobError>> => {
    if (_codec == null) {
      _codec = message<JobError, Partial<JobError>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.code != null && obj.code !== '')) {
          w.uint32(10)
          w.string(obj.code)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          code: '',
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.code = reader.string()
              break
            }
            case 2: {
              obj.message = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.code`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface JobErrorCodeFieldEvent {
    field: '$.code'
    value: string
  }

  export interface JobErrorMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<JobError>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, JobError.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobError>): JobError {
    return decodeMessage(buf, JobError.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobError>): Generator<JobErrorCodeFieldEvent | JobErrorMessageFieldEvent> {
    return streamMessage(buf, JobError.codec(), opts)
  }
}

export interface Lost {
  peerId: string
  code: string
  message: string
}

export namespace Lost {
  let _codec: Codec<Lost, Partial<Lost>>

  export const codec = (): Codec<Lost, Partial<Lost>> => {
    if (_codec == null) {
      _codec = message<Lost, Partial<Lost>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peerId != null && obj.peerId !== '')) {
          w.uint32(10)
          w.string(obj.peerId)
        }

        if ((obj.code != null && obj.code !== '')) {
          w.uint32(18)
          w.string(obj.code)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(26)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peerId: '',
          code: '',
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peerId = reader.string()
              break
            }
            case 2: {
              obj.code = reader.string()
              break
            }
            case 3: {
              obj.message = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.peerId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.code`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface LostPeerIdFieldEvent {
    field: '$.peerId'
    value: string
  }

  export interface LostCodeFieldEvent {
    field: '$.code'
    value: string
  }

  export interface LostMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<Lost>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Lost.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Lost>): Lost {
    return decodeMessage(buf, Lost.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Lost>): Generator<LostPeerIdFieldEvent | LostCodeFieldEvent | LostMessageFieldEvent> {
    return streamMessage(buf, Lost.codec(), opts)
  }
}

export interface JobServerMessage {
  accepted?: Accepted
  result?: Result
  credit?: CreditRequest
  receipt?: TicketReceipt
  error?: JobError
  lost?: Lost
}

export namespace JobServerMessage {
  let _codec: Codec<JobServerMessage, Partial<JobServerMessage>>

  export const codec = (): Codec<JobServerMessage, Partial<JobServerMessage>> => {
    if (_codec == null) {
      _codec = message<JobServerMessage, Partial<JobServerMessage>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.accepted != null) {
          w.uint32(10)
          Accepted.codec().encode(obj.accepted, w)
        }

        if (obj.result != null) {
          w.uint32(18)
          Result.codec().encode(obj.result, w)
        }

        if (obj.credit != null) {
          w.uint32(26)
          CreditRequest.codec().encode(obj.credit, w)
        }

        if (obj.receipt != null) {
          w.uint32(34)
          TicketReceipt.codec().encode(obj.receipt, w)
        }

        if (obj.error != null) {
          w.uint32(42)
          JobError.codec().encode(obj.error, w)
        }

        if (obj.lost != null) {
          w.uint32(50)
          Lost.codec().encode(obj.lost, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.accepted = Accepted.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.accepted
              })
              break
            }
            case 2: {
              obj.result = Result.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.result
              })
              break
            }
            case 3: {
              obj.credit = CreditRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.credit
              })
              break
            }
            case 4: {
              obj.receipt = TicketReceipt.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.receipt
              })
              break
            }
            case 5: {
              obj.error = JobError.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.error
              })
              break
            }
            case 6: {
              obj.lost = Lost.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.lost
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Accepted.codec().stream(reader, reader.uint32(), `${prefix}.accepted`, {
                limits: opts.limits?.accepted
              })

              break
            }
            case 2: {
              yield * Result.codec().stream(reader, reader.uint32(), `${prefix}.result`, {
                limits: opts.limits?.result
              })

              break
            }
            case 3: {
              yield * CreditRequest.codec().stream(reader, reader.uint32(), `${prefix}.credit`, {
                limits: opts.limits?.credit
              })

              break
            }
            case 4: {
              yield * TicketReceipt.codec().stream(reader, reader.uint32(), `${prefix}.receipt`, {
                limits: opts.limits?.receipt
              })

              break
            }
            case 5: {
              yield * JobError.codec().stream(reader, reader.uint32(), `${prefix}.error`, {
                limits: opts.limits?.error
              })

              break
            }
            case 6: {
              yield * Lost.codec().stream(reader, reader.uint32(), `${prefix}.lost`, {
                limits: opts.limits?.lost
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface JobServerMessageAcceptedJobIdFieldEvent {
    field: '$.accepted.jobId'
    value: string
  }

  export interface JobServerMessageAcceptedWindowFieldEvent {
    field: '$.accepted.window'
    value: number
  }

  export interface JobServerMessageAcceptedNextSeqFieldEvent {
    field: '$.accepted.nextSeq'
    value: number
  }

  export interface JobServerMessageResultSeqFieldEvent {
    field: '$.result.seq'
    value: number
  }

  export interface JobServerMessageResultImageWidthFieldEvent {
    field: '$.result.image.width'
    value: number
  }

  export interface JobServerMessageResultImageHeightFieldEvent {
    field: '$.result.image.height'
    value: number
  }

  export interface JobServerMessageResultImageDataFieldEvent {
    field: '$.result.image.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobServerMessageResultJsonFieldEvent {
    field: '$.result.json'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobServerMessageResultDebitedWeiFieldEvent {
    field: '$.result.debitedWei'
    value: string
  }

  export interface JobServerMessageResultLinesTextFieldEvent {
    field: '$.result.lines[].text'
    value: string
    index: number
  }

  export interface JobServerMessageResultLinesConfidenceFieldEvent {
    field: '$.result.lines[].confidence'
    value: number
    index: number
  }

  export interface JobServerMessageResultLinesBoxFieldEvent {
    field: '$.result.lines[].box[]'
    index: number
    value: number
  }

  export interface JobServerMessageResultDigestFieldEvent {
    field: '$.result.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobServerMessageCreditGapWeiFieldEvent {
    field: '$.credit.gapWei'
    value: string
  }

  export interface JobServerMessageCreditParamsFieldEvent {
    field: '$.credit.params'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobServerMessageReceiptAcceptedFieldEvent {
    field: '$.receipt.accepted'
    value: number
  }

  export interface JobServerMessageReceiptRejectedFieldEvent {
    field: '$.receipt.rejected'
    value: number
  }

  export interface JobServerMessageReceiptCreditedWeiFieldEvent {
    field: '$.receipt.creditedWei'
    value: string
  }

  export interface JobServerMessageReceiptBalanceWeiFieldEvent {
    field: '$.receipt.balanceWei'
    value: string
  }

  export interface JobServerMessageReceiptRejectCodeFieldEvent {
    field: '$.receipt.rejectCode'
    value: string
  }

  export interface JobServerMessageErrorCodeFieldEvent {
    field: '$.error.code'
    value: string
  }

  export interface JobServerMessageErrorMessageFieldEvent {
    field: '$.error.message'
    value: string
  }

  export interface JobServerMessageLostPeerIdFieldEvent {
    field: '$.lost.peerId'
    value: string
  }

  export interface JobServerMessageLostCodeFieldEvent {
    field: '$.lost.code'
    value: string
  }

  export interface JobServerMessageLostMessageFieldEvent {
    field: '$.lost.message'
    value: string
  }

  export function encode (obj: Partial<JobServerMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, JobServerMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobServerMessage>): JobServerMessage {
    return decodeMessage(buf, JobServerMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobServerMessage>): Generator<JobServerMessageAcceptedJobIdFieldEvent | JobServerMessageAcceptedWindowFieldEvent | JobServerMessageAcceptedNextSeqFieldEvent | JobServerMessageResultSeqFieldEvent | JobServerMessageResultImageWidthFieldEvent | JobServerMessageResultImageHeightFieldEvent | JobServerMessageResultImageDataFieldEvent | JobServerMessageResultJsonFieldEvent | JobServerMessageResultDebitedWeiFieldEvent | JobServerMessageResultLinesTextFieldEvent | JobServerMessageResultLinesConfidenceFieldEvent | JobServerMessageResultLinesBoxFieldEvent | JobServerMessageResultDigestFieldEvent | JobServerMessageCreditGapWeiFieldEvent | JobServerMessageCreditParamsFieldEvent | JobServerMessageReceiptAcceptedFieldEvent | JobServerMessageReceiptRejectedFieldEvent | JobServerMessageReceiptCreditedWeiFieldEvent | JobServerMessageReceiptBalanceWeiFieldEvent | JobServerMessageReceiptRejectCodeFieldEvent | JobServerMessageErrorCodeFieldEvent | JobServerMessageErrorMessageFieldEvent | JobServerMessageLostPeerIdFieldEvent | JobServerMessageLostCodeFieldEvent | JobServerMessageLostMessageFieldEvent> {
    return streamMessage(buf, JobServerMessage.codec(), opts)
  }
}
