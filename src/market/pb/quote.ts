import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface JobSpec {
  pipeline: string
  modelId: string
  width: number
  height: number
  format: string
  frameCount: number
  maxPricePerUnitWei: string
  sender: Uint8Array<ArrayBuffer>
  feeder?: string
}

export namespace JobSpec {
  let _codec: Codec<JobSpec, Partial<JobSpec>>

  export const codec = (): Codec<JobSpec, Partial<JobSpec>> => {
    if (_codec == null) {
      _codec = message<JobSpec, Partial<JobSpec>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.pipeline != null && obj.pipeline !== '')) {
          w.uint32(10)
          w.string(obj.pipeline)
        }

        if ((obj.modelId != null && obj.modelId !== '')) {
          w.uint32(18)
          w.string(obj.modelId)
        }

        if ((obj.width != null && obj.width !== 0)) {
          w.uint32(24)
          w.uint32(obj.width)
        }

        if ((obj.height != null && obj.height !== 0)) {
          w.uint32(32)
          w.uint32(obj.height)
        }

        if ((obj.format != null && obj.format !== '')) {
          w.uint32(42)
          w.string(obj.format)
        }

        if ((obj.frameCount != null && obj.frameCount !== 0)) {
          w.uint32(48)
          w.uint32(obj.frameCount)
        }

        if ((obj.maxPricePerUnitWei != null && obj.maxPricePerUnitWei !== '')) {
          w.uint32(58)
          w.string(obj.maxPricePerUnitWei)
        }

        if ((obj.sender != null && obj.sender.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.sender)
        }

        if (obj.feeder != null) {
          w.uint32(74)
          w.string(obj.feeder)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          pipeline: '',
          modelId: '',
          width: 0,
          height: 0,
          format: '',
          frameCount: 0,
          maxPricePerUnitWei: '',
          sender: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.pipeline = reader.string()
              break
            }
            case 2: {
              obj.modelId = reader.string()
              break
            }
            case 3: {
              obj.width = reader.uint32()
              break
            }
            case 4: {
              obj.height = reader.uint32()
              break
            }
            case 5: {
              obj.format = reader.string()
              break
            }
            case 6: {
              obj.frameCount = reader.uint32()
              break
            }
            case 7: {
              obj.maxPricePerUnitWei = reader.string()
              break
            }
            case 8: {
              obj.sender = reader.bytes()
              break
            }
            case 9: {
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
                field: `${prefix}.pipeline`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.modelId`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.width`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.height`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.format`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.frameCount`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.maxPricePerUnitWei`,
                value: reader.string()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.sender`,
                value: reader.bytes()
              }
              break
            }
            case 9: {
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

  export interface JobSpecPipelineFieldEvent {
    field: '$.pipeline'
    value: string
  }

  export interface JobSpecModelIdFieldEvent {
    field: '$.modelId'
    value: string
  }

  export interface JobSpecWidthFieldEvent {
    field: '$.width'
    value: number
  }

  export interface JobSpecHeightFieldEvent {
    field: '$.height'
    value: number
  }

  export interface JobSpecFormatFieldEvent {
    field: '$.format'
    value: string
  }

  export interface JobSpecFrameCountFieldEvent {
    field: '$.frameCount'
    value: number
  }

  export interface JobSpecMaxPricePerUnitWeiFieldEvent {
    field: '$.maxPricePerUnitWei'
    value: string
  }

  export interface JobSpecSenderFieldEvent {
    field: '$.sender'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobSpecFeederFieldEvent {
    field: '$.feeder'
    value: string
  }

  export function encode (obj: Partial<JobSpec>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, JobSpec.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobSpec>): JobSpec {
    return decodeMessage(buf, JobSpec.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobSpec>): Generator<JobSpecPipelineFieldEvent | JobSpecModelIdFieldEvent | JobSpecWidthFieldEvent | JobSpecHeightFieldEvent | JobSpecFormatFieldEvent | JobSpecFrameCountFieldEvent | JobSpecMaxPricePerUnitWeiFieldEvent | JobSpecSenderFieldEvent | JobSpecFeederFieldEvent> {
    return streamMessage(buf, JobSpec.codec(), opts)
  }
}

export interface QuoteRequest {
  spec?: JobSpec
}

export namespace QuoteRequest {
  let _codec: Codec<QuoteRequest, Partial<QuoteRequest>>

  export const codec = (): Codec<QuoteRequest, Partial<QuoteRequest>> => {
    if (_codec == null) {
      _codec = message<QuoteRequest, Partial<QuoteRequest>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.spec != null) {
          w.uint32(10)
          JobSpec.codec().encode(obj.spec, w)
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
              obj.spec = JobSpec.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.spec
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
              yield * JobSpec.codec().stream(reader, reader.uint32(), `${prefix}.spec`, {
                limits: opts.limits?.spec
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

  export interface QuoteRequestSpecPipelineFieldEvent {
    field: '$.spec.pipeline'
    value: string
  }

  export interface QuoteRequestSpecModelIdFieldEvent {
    field: '$.spec.modelId'
    value: string
  }

  export interface QuoteRequestSpecWidthFieldEvent {
    field: '$.spec.width'
    value: number
  }

  export interface QuoteRequestSpecHeightFieldEvent {
    field: '$.spec.height'
    value: number
  }

  export interface QuoteRequestSpecFormatFieldEvent {
    field: '$.spec.format'
    value: string
  }

  export interface QuoteRequestSpecFrameCountFieldEvent {
    field: '$.spec.frameCount'
    value: number
  }

  export interface QuoteRequestSpecMaxPricePerUnitWeiFieldEvent {
    field: '$.spec.maxPricePerUnitWei'
    value: string
  }

  export interface QuoteRequestSpecSenderFieldEvent {
    field: '$.spec.sender'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteRequestSpecFeederFieldEvent {
    field: '$.spec.feeder'
    value: string
  }

  export function encode (obj: Partial<QuoteRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, QuoteRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<QuoteRequest>): QuoteRequest {
    return decodeMessage(buf, QuoteRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<QuoteRequest>): Generator<QuoteRequestSpecPipelineFieldEvent | QuoteRequestSpecModelIdFieldEvent | QuoteRequestSpecWidthFieldEvent | QuoteRequestSpecHeightFieldEvent | QuoteRequestSpecFormatFieldEvent | QuoteRequestSpecFrameCountFieldEvent | QuoteRequestSpecMaxPricePerUnitWeiFieldEvent | QuoteRequestSpecSenderFieldEvent | QuoteRequestSpecFeederFieldEvent> {
    return streamMessage(buf, QuoteRequest.codec(), opts)
  }
}

export interface TicketParamsMessage {
  recipient: Uint8Array<ArrayBuffer>
  faceValue: string
  winProb: string
  recipientRandHash: Uint8Array<ArrayBuffer>
  seed: Uint8Array<ArrayBuffer>
  expirationBlock: string
  creationRound: string
  creationRoundBlockHash: Uint8Array<ArrayBuffer>
  priceWei: string
  priceUnits: string
}

export namespace TicketParamsMessage {
  let _codec: Codec<TicketParamsMessage, Partial<TicketParamsMessage>>

  export const codec = (): Codec<TicketParamsMessage, Partial<TicketParamsMessage>> => {
    if (_codec == null) {
      _codec = message<TicketParamsMessage, Partial<TicketParamsMessage>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.recipient != null && obj.recipient.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.recipient)
        }

        if ((obj.faceValue != null && obj.faceValue !== '')) {
          w.uint32(18)
          w.string(obj.faceValue)
        }

        if ((obj.winProb != null && obj.winProb !== '')) {
          w.uint32(26)
          w.string(obj.winProb)
        }

        if ((obj.recipientRandHash != null && obj.recipientRandHash.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.recipientRandHash)
        }

        if ((obj.seed != null && obj.seed.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.seed)
        }

        if ((obj.expirationBlock != null && obj.expirationBlock !== '')) {
          w.uint32(50)
          w.string(obj.expirationBlock)
        }

        if ((obj.creationRound != null && obj.creationRound !== '')) {
          w.uint32(58)
          w.string(obj.creationRound)
        }

        if ((obj.creationRoundBlockHash != null && obj.creationRoundBlockHash.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.creationRoundBlockHash)
        }

        if ((obj.priceWei != null && obj.priceWei !== '')) {
          w.uint32(74)
          w.string(obj.priceWei)
        }

        if ((obj.priceUnits != null && obj.priceUnits !== '')) {
          w.uint32(82)
          w.string(obj.priceUnits)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          recipient: uint8ArrayAlloc(0),
          faceValue: '',
          winProb: '',
          recipientRandHash: uint8ArrayAlloc(0),
          seed: uint8ArrayAlloc(0),
          expirationBlock: '',
          creationRound: '',
          creationRoundBlockHash: uint8ArrayAlloc(0),
          priceWei: '',
          priceUnits: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.recipient = reader.bytes()
              break
            }
            case 2: {
              obj.faceValue = reader.string()
              break
            }
            case 3: {
              obj.winProb = reader.string()
              break
            }
            case 4: {
              obj.recipientRandHash = reader.bytes()
              break
            }
            case 5: {
              obj.seed = reader.bytes()
              break
            }
            case 6: {
              obj.expirationBlock = reader.string()
              break
            }
            case 7: {
              obj.creationRound = reader.string()
              break
            }
            case 8: {
              obj.creationRoundBlockHash = reader.bytes()
              break
            }
            case 9: {
              obj.priceWei = reader.string()
              break
            }
            case 10: {
              obj.priceUnits = reader.string()
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
                field: `${prefix}.recipient`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.faceValue`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.winProb`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.recipientRandHash`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.seed`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.expirationBlock`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.creationRound`,
                value: reader.string()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.creationRoundBlockHash`,
                value: reader.bytes()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.priceWei`,
                value: reader.string()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.priceUnits`,
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

  export interface TicketParamsMessageRecipientFieldEvent {
    field: '$.recipient'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TicketParamsMessageFaceValueFieldEvent {
    field: '$.faceValue'
    value: string
  }

  export interface TicketParamsMessageWinProbFieldEvent {
    field: '$.winProb'
    value: string
  }

  export interface TicketParamsMessageRecipientRandHashFieldEvent {
    field: '$.recipientRandHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TicketParamsMessageSeedFieldEvent {
    field: '$.seed'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TicketParamsMessageExpirationBlockFieldEvent {
    field: '$.expirationBlock'
    value: string
  }

  export interface TicketParamsMessageCreationRoundFieldEvent {
    field: '$.creationRound'
    value: string
  }

  export interface TicketParamsMessageCreationRoundBlockHashFieldEvent {
    field: '$.creationRoundBlockHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TicketParamsMessagePriceWeiFieldEvent {
    field: '$.priceWei'
    value: string
  }

  export interface TicketParamsMessagePriceUnitsFieldEvent {
    field: '$.priceUnits'
    value: string
  }

  export function encode (obj: Partial<TicketParamsMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TicketParamsMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TicketParamsMessage>): TicketParamsMessage {
    return decodeMessage(buf, TicketParamsMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TicketParamsMessage>): Generator<TicketParamsMessageRecipientFieldEvent | TicketParamsMessageFaceValueFieldEvent | TicketParamsMessageWinProbFieldEvent | TicketParamsMessageRecipientRandHashFieldEvent | TicketParamsMessageSeedFieldEvent | TicketParamsMessageExpirationBlockFieldEvent | TicketParamsMessageCreationRoundFieldEvent | TicketParamsMessageCreationRoundBlockHashFieldEvent | TicketParamsMessagePriceWeiFieldEvent | TicketParamsMessagePriceUnitsFieldEvent> {
    return streamMessage(buf, TicketParamsMessage.codec(), opts)
  }
}

export interface QuoteBody {
  quoteId: string
  peerId: string
  spec?: JobSpec
  pricePerUnitWei: string
  unit: string
  ticketParams?: TicketParamsMessage
  expiresAt: number
  window: number
  outputWidth?: number
  outputHeight?: number
}

export namespace QuoteBody {
  let _codec: Codec<QuoteBody, Partial<QuoteBody>>

  export const codec = (): Codec<QuoteBody, Partial<QuoteBody>> => {
    if (_codec == null) {
      _codec = message<QuoteBody, Partial<QuoteBody>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.quoteId != null && obj.quoteId !== '')) {
          w.uint32(10)
          w.string(obj.quoteId)
        }

        if ((obj.peerId != null && obj.peerId !== '')) {
          w.uint32(18)
          w.string(obj.peerId)
        }

        if (obj.spec != null) {
          w.uint32(26)
          JobSpec.codec().encode(obj.spec, w)
        }

        if ((obj.pricePerUnitWei != null && obj.pricePerUnitWei !== '')) {
          w.uint32(34)
          w.string(obj.pricePerUnitWei)
        }

        if ((obj.unit != null && obj.unit !== '')) {
          w.uint32(42)
          w.string(obj.unit)
        }

        if (obj.ticketParams != null) {
          w.uint32(50)
          TicketParamsMessage.codec().encode(obj.ticketParams, w)
        }

        if ((obj.expiresAt != null && obj.expiresAt !== 0)) {
          w.uint32(56)
          w.uint64Number(obj.expiresAt)
        }

        if ((obj.window != null && obj.window !== 0)) {
          w.uint32(64)
          w.uint32(obj.window)
        }

        if (obj.outputWidth != null) {
          w.uint32(72)
          w.uint32(obj.outputWidth)
        }

        if (obj.outputHeight != null) {
          w.uint32(80)
          w.uint32(obj.outputHeight)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          quoteId: '',
          peerId: '',
          pricePerUnitWei: '',
          unit: '',
          expiresAt: 0,
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
              obj.peerId = reader.string()
              break
            }
            case 3: {
              obj.spec = JobSpec.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.spec
              })
              break
            }
            case 4: {
              obj.pricePerUnitWei = reader.string()
              break
            }
            case 5: {
              obj.unit = reader.string()
              break
            }
            case 6: {
              obj.ticketParams = TicketParamsMessage.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ticketParams
              })
              break
            }
            case 7: {
              obj.expiresAt = reader.uint64Number()
              break
            }
            case 8: {
              obj.window = reader.uint32()
              break
            }
            case 9: {
              obj.outputWidth = reader.uint32()
              break
            }
            case 10: {
              obj.outputHeight = reader.uint32()
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
                field: `${prefix}.peerId`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield * JobSpec.codec().stream(reader, reader.uint32(), `${prefix}.spec`, {
                limits: opts.limits?.spec
              })

              break
            }
            case 4: {
              yield {
                field: `${prefix}.pricePerUnitWei`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.unit`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield * TicketParamsMessage.codec().stream(reader, reader.uint32(), `${prefix}.ticketParams`, {
                limits: opts.limits?.ticketParams
              })

              break
            }
            case 7: {
              yield {
                field: `${prefix}.expiresAt`,
                value: reader.uint64Number()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.window`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.outputWidth`,
                value: reader.uint32()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.outputHeight`,
                value: reader.uint32()
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

  export interface QuoteBodyQuoteIdFieldEvent {
    field: '$.quoteId'
    value: string
  }

  export interface QuoteBodyPeerIdFieldEvent {
    field: '$.peerId'
    value: string
  }

  export interface QuoteBodySpecPipelineFieldEvent {
    field: '$.spec.pipeline'
    value: string
  }

  export interface QuoteBodySpecModelIdFieldEvent {
    field: '$.spec.modelId'
    value: string
  }

  export interface QuoteBodySpecWidthFieldEvent {
    field: '$.spec.width'
    value: number
  }

  export interface QuoteBodySpecHeightFieldEvent {
    field: '$.spec.height'
    value: number
  }

  export interface QuoteBodySpecFormatFieldEvent {
    field: '$.spec.format'
    value: string
  }

  export interface QuoteBodySpecFrameCountFieldEvent {
    field: '$.spec.frameCount'
    value: number
  }

  export interface QuoteBodySpecMaxPricePerUnitWeiFieldEvent {
    field: '$.spec.maxPricePerUnitWei'
    value: string
  }

  export interface QuoteBodySpecSenderFieldEvent {
    field: '$.spec.sender'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteBodySpecFeederFieldEvent {
    field: '$.spec.feeder'
    value: string
  }

  export interface QuoteBodyPricePerUnitWeiFieldEvent {
    field: '$.pricePerUnitWei'
    value: string
  }

  export interface QuoteBodyUnitFieldEvent {
    field: '$.unit'
    value: string
  }

  export interface QuoteBodyTicketParamsRecipientFieldEvent {
    field: '$.ticketParams.recipient'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteBodyTicketParamsFaceValueFieldEvent {
    field: '$.ticketParams.faceValue'
    value: string
  }

  export interface QuoteBodyTicketParamsWinProbFieldEvent {
    field: '$.ticketParams.winProb'
    value: string
  }

  export interface QuoteBodyTicketParamsRecipientRandHashFieldEvent {
    field: '$.ticketParams.recipientRandHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteBodyTicketParamsSeedFieldEvent {
    field: '$.ticketParams.seed'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteBodyTicketParamsExpirationBlockFieldEvent {
    field: '$.ticketParams.expirationBlock'
    value: string
  }

  export interface QuoteBodyTicketParamsCreationRoundFieldEvent {
    field: '$.ticketParams.creationRound'
    value: string
  }

  export interface QuoteBodyTicketParamsCreationRoundBlockHashFieldEvent {
    field: '$.ticketParams.creationRoundBlockHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteBodyTicketParamsPriceWeiFieldEvent {
    field: '$.ticketParams.priceWei'
    value: string
  }

  export interface QuoteBodyTicketParamsPriceUnitsFieldEvent {
    field: '$.ticketParams.priceUnits'
    value: string
  }

  export interface QuoteBodyExpiresAtFieldEvent {
    field: '$.expiresAt'
    value: number
  }

  export interface QuoteBodyWindowFieldEvent {
    field: '$.window'
    value: number
  }

  export interface QuoteBodyOutputWidthFieldEvent {
    field: '$.outputWidth'
    value: number
  }

  export interface QuoteBodyOutputHeightFieldEvent {
    field: '$.outputHeight'
    value: number
  }

  export function encode (obj: Partial<QuoteBody>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, QuoteBody.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<QuoteBody>): QuoteBody {
    return decodeMessage(buf, QuoteBody.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<QuoteBody>): Generator<QuoteBodyQuoteIdFieldEvent | QuoteBodyPeerIdFieldEvent | QuoteBodySpecPipelineFieldEvent | QuoteBodySpecModelIdFieldEvent | QuoteBodySpecWidthFieldEvent | QuoteBodySpecHeightFieldEvent | QuoteBodySpecFormatFieldEvent | QuoteBodySpecFrameCountFieldEvent | QuoteBodySpecMaxPricePerUnitWeiFieldEvent | QuoteBodySpecSenderFieldEvent | QuoteBodySpecFeederFieldEvent | QuoteBodyPricePerUnitWeiFieldEvent | QuoteBodyUnitFieldEvent | QuoteBodyTicketParamsRecipientFieldEvent | QuoteBodyTicketParamsFaceValueFieldEvent | QuoteBodyTicketParamsWinProbFieldEvent | QuoteBodyTicketParamsRecipientRandHashFieldEvent | QuoteBodyTicketParamsSeedFieldEvent | QuoteBodyTicketParamsExpirationBlockFieldEvent | QuoteBodyTicketParamsCreationRoundFieldEvent | QuoteBodyTicketParamsCreationRoundBlockHashFieldEvent | QuoteBodyTicketParamsPriceWeiFieldEvent | QuoteBodyTicketParamsPriceUnitsFieldEvent | QuoteBodyExpiresAtFieldEvent | QuoteBodyWindowFieldEvent | QuoteBodyOutputWidthFieldEvent | QuoteBodyOutputHeightFieldEvent> {
    return streamMessage(buf, QuoteBody.codec(), opts)
  }
}

export interface SignedQuote {
  body: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedQuote {
  let _codec: Codec<SignedQuote, Partial<SignedQuote>>

  export const codec = (): Codec<SignedQuote, Partial<SignedQuote>> => {
    if (_codec == null) {
      _codec = message<SignedQuote, Partial<SignedQuote>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.body != null && obj.body.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.body)
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
          body: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.body = reader.bytes()
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
                field: `${prefix}.body`,
                value: reader.bytes()
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

  export interface SignedQuoteBodyFieldEvent {
    field: '$.body'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedQuoteSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedQuote>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedQuote.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedQuote>): SignedQuote {
    return decodeMessage(buf, SignedQuote.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedQuote>): Generator<SignedQuoteBodyFieldEvent | SignedQuoteSignatureFieldEvent> {
    return streamMessage(buf, SignedQuote.codec(), opts)
  }
}

export interface Refusal {
  code: string
  message: string
}

export namespace Refusal {
  let _codec: Codec<Refusal, Partial<Refusal>>

  export const codec = (): Codec<Refusal, Partial<Refusal>> => {
    if (_codec == null) {
      _codec = message<Refusal, Partial<Refusal>>((obj, w, opts = {}) => {
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

  export interface RefusalCodeFieldEvent {
    field: '$.code'
    value: string
  }

  export interface RefusalMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<Refusal>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Refusal.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Refusal>): Refusal {
    return decodeMessage(buf, Refusal.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Refusal>): Generator<RefusalCodeFieldEvent | RefusalMessageFieldEvent> {
    return streamMessage(buf, Refusal.codec(), opts)
  }
}

export interface QuoteResponse {
  quote?: SignedQuote
  refusal?: Refusal
}

export namespace QuoteResponse {
  let _codec: Codec<QuoteResponse, Partial<QuoteResponse>>

  export const codec = (): Codec<QuoteResponse, Partial<QuoteResponse>> => {
    if (_codec == null) {
      _codec = message<QuoteResponse, Partial<QuoteResponse>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.quote != null) {
          w.uint32(10)
          SignedQuote.codec().encode(obj.quote, w)
        }

        if (obj.refusal != null) {
          w.uint32(18)
          Refusal.codec().encode(obj.refusal, w)
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
              obj.quote = SignedQuote.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.quote
              })
              break
            }
            case 2: {
              obj.refusal = Refusal.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.refusal
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
              yield * SignedQuote.codec().stream(reader, reader.uint32(), `${prefix}.quote`, {
                limits: opts.limits?.quote
              })

              break
            }
            case 2: {
              yield * Refusal.codec().stream(reader, reader.uint32(), `${prefix}.refusal`, {
                limits: opts.limits?.refusal
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

  export interface QuoteResponseQuoteBodyFieldEvent {
    field: '$.quote.body'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteResponseQuoteSignatureFieldEvent {
    field: '$.quote.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface QuoteResponseRefusalCodeFieldEvent {
    field: '$.refusal.code'
    value: string
  }

  export interface QuoteResponseRefusalMessageFieldEvent {
    field: '$.refusal.message'
    value: string
  }

  export function encode (obj: Partial<QuoteResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, QuoteResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<QuoteResponse>): QuoteResponse {
    return decodeMessage(buf, QuoteResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<QuoteResponse>): Generator<QuoteResponseQuoteBodyFieldEvent | QuoteResponseQuoteSignatureFieldEvent | QuoteResponseRefusalCodeFieldEvent | QuoteResponseRefusalMessageFieldEvent> {
    return streamMessage(buf, QuoteResponse.codec(), opts)
  }
}
