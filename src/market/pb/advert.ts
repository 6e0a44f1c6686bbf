import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SignedAdvert {
  body: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedAdvert {
  let _codec: Codec<SignedAdvert, Partial<SignedAdvert>>

  export const codec = (): Codec<SignedAdvert, Partial<SignedAdvert>> => {
    if (_codec == null) {
      _codec = message<SignedAdvert, Partial<SignedAdvert>>((obj, w, opts = {}) => {
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

  export interface SignedAdvertBodyFieldEvent {
    field: '$.body'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedAdvertSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedAdvert>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedAdvert.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedAdvert>): SignedAdvert {
    return decodeMessage(buf, SignedAdvert.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedAdvert>): Generator<SignedAdvertBodyFieldEvent | SignedAdvertSignatureFieldEvent> {
    return streamMessage(buf, SignedAdvert.codec(), opts)
  }
}

export enum PricingUnit {
  PRICING_UNIT_UNSPECIFIED = 'PRICING_UNIT_UNSPECIFIED',
  OUTPUT_MEGAPIXEL = 'OUTPUT_MEGAPIXEL',
  FRAME = 'FRAME',
  INPUT_MEGAPIXEL = 'INPUT_MEGAPIXEL'
}

enum __PricingUnitValues {
  PRICING_UNIT_UNSPECIFIED = 0,
  OUTPUT_MEGAPIXEL = 1,
  FRAME = 2,
  INPUT_MEGAPIXEL = 3
}

export namespace PricingUnit {
  export const codec = (): Codec<PricingUnit, PricingUnit> => {
    return enumeration<PricingUnit>(__PricingUnitValues)
  }
}

export interface ModelOffer {
  id: string
  pipeline: string
  sha256: Uint8Array<ArrayBuffer>
  warm: boolean
  pricePerUnitWei: string
  unit: PricingUnit
}

export namespace ModelOffer {
  let _codec: Codec<ModelOffer, Partial<ModelOffer>>

  export const codec = (): Codec<ModelOffer, Partial<ModelOffer>> => {
    if (_codec == null) {
      _codec = message<ModelOffer, Partial<ModelOffer>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if ((obj.pipeline != null && obj.pipeline !== '')) {
          w.uint32(18)
          w.string(obj.pipeline)
        }

        if ((obj.sha256 != null && obj.sha256.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.sha256)
        }

        if ((obj.warm != null && obj.warm !== false)) {
          w.uint32(32)
          w.bool(obj.warm)
        }

        if ((obj.pricePerUnitWei != null && obj.pricePerUnitWei !== '')) {
          w.uint32(42)
          w.string(obj.pricePerUnitWei)
        }

        if (obj.unit != null && __PricingUnitValues[obj.unit] !== 0) {
          w.uint32(48)
          PricingUnit.codec().encode(obj.unit, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          pipeline: '',
          sha256: uint8ArrayAlloc(0),
          warm: false,
          pricePerUnitWei: '',
          unit: PricingUnit.PRICING_UNIT_UNSPECIFIED
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.string()
              break
            }
            case 2: {
              obj.pipeline = reader.string()
              break
            }
            case 3: {
              obj.sha256 = reader.bytes()
              break
            }
            case 4: {
              obj.warm = reader.bool()
              break
            }
            case 5: {
              obj.pricePerUnitWei = reader.string()
              break
            }
            case 6: {
              obj.unit = PricingUnit.codec().decode(reader)
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
                field: `${prefix}.id`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.pipeline`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.sha256`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.warm`,
                value: reader.bool()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.pricePerUnitWei`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.unit`,
                value: PricingUnit.codec().decode(reader)
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

  export interface ModelOfferIdFieldEvent {
    field: '$.id'
    value: string
  }

  export interface ModelOfferPipelineFieldEvent {
    field: '$.pipeline'
    value: string
  }

  export interface ModelOfferSha256FieldEvent {
    field: '$.sha256'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ModelOfferWarmFieldEvent {
    field: '$.warm'
    value: boolean
  }

  export interface ModelOfferPricePerUnitWeiFieldEvent {
    field: '$.pricePerUnitWei'
    value: string
  }

  export interface ModelOfferUnitFieldEvent {
    field: '$.unit'
    value: PricingUnit
  }

  export function encode (obj: Partial<ModelOffer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ModelOffer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ModelOffer>): ModelOffer {
    return decodeMessage(buf, ModelOffer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ModelOffer>): Generator<ModelOfferIdFieldEvent | ModelOfferPipelineFieldEvent | ModelOfferSha256FieldEvent | ModelOfferWarmFieldEvent | ModelOfferPricePerUnitWeiFieldEvent | ModelOfferUnitFieldEvent> {
    return streamMessage(buf, ModelOffer.codec(), opts)
  }
}

export interface PaymentBinding {
  address: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace PaymentBinding {
  let _codec: Codec<PaymentBinding, Partial<PaymentBinding>>

  export const codec = (): Codec<PaymentBinding, Partial<PaymentBinding>> => {
    if (_codec == null) {
      _codec = message<PaymentBinding, Partial<PaymentBinding>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.address != null && obj.address.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.address)
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
          address: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.address = reader.bytes()
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
                field: `${prefix}.address`,
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

  export interface PaymentBindingAddressFieldEvent {
    field: '$.address'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PaymentBindingSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<PaymentBinding>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PaymentBinding.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PaymentBinding>): PaymentBinding {
    return decodeMessage(buf, PaymentBinding.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PaymentBinding>): Generator<PaymentBindingAddressFieldEvent | PaymentBindingSignatureFieldEvent> {
    return streamMessage(buf, PaymentBinding.codec(), opts)
  }
}

export interface AdvertBody {
  peerId: string
  sequence: number
  expiresAt: number
  payment?: PaymentBinding
  models: ModelOffer[]
  slotsFree: number
  slotsTotal: number
  frameFormats: string[]
  maxFrameWidth: number
  maxFrameHeight: number
}

export namespace AdvertBody {
  let _codec: Codec<AdvertBody, Partial<AdvertBody>>

  export const codec = (): Codec<AdvertBody, Partial<AdvertBody>> => {
    if (_codec == null) {
      _codec = message<AdvertBody, Partial<AdvertBody>>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peerId != null && obj.peerId !== '')) {
          w.uint32(10)
          w.string(obj.peerId)
        }

        if ((obj.sequence != null && obj.sequence !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.sequence)
        }

        if ((obj.expiresAt != null && obj.expiresAt !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.expiresAt)
        }

        if (obj.payment != null) {
          w.uint32(34)
          PaymentBinding.codec().encode(obj.payment, w)
        }

        if (obj.models != null && obj.models.length > 0) {
          for (const value of obj.models) {
            w.uint32(42)
            ModelOffer.codec().encode(value, w)
          }
        }

        if ((obj.slotsFree != null && obj.slotsFree !== 0)) {
          w.uint32(48)
          w.uint32(obj.slotsFree)
        }

        if ((obj.slotsTotal != null && obj.slotsTotal !== 0)) {
          w.uint32(56)
          w.uint32(obj.slotsTotal)
        }

        if (obj.frameFormats != null && obj.frameFormats.length > 0) {
          for (const value of obj.frameFormats) {
            w.uint32(66)
            w.string(value)
          }
        }

        if ((obj.maxFrameWidth != null && obj.maxFrameWidth !== 0)) {
          w.uint32(72)
          w.uint32(obj.maxFrameWidth)
        }

        if ((obj.maxFrameHeight != null && obj.maxFrameHeight !== 0)) {
          w.uint32(80)
          w.uint32(obj.maxFrameHeight)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peerId: '',
          sequence: 0,
          expiresAt: 0,
          models: [],
          slotsFree: 0,
          slotsTotal: 0,
          frameFormats: [],
          maxFrameWidth: 0,
          maxFrameHeight: 0
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
              obj.sequence = reader.uint64Number()
              break
            }
            case 3: {
              obj.expiresAt = reader.uint64Number()
              break
            }
            case 4: {
              obj.payment = PaymentBinding.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.payment
              })
              break
            }
            case 5: {
              if (opts.limits?.models != null && obj.models.length === opts.limits.models) {
                throw new MaxLengthError('Decode error - repeated field "models" had too many elements')
              }

              obj.models.push(ModelOffer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.models$
              }))
              break
            }
            case 6: {
              obj.slotsFree = reader.uint32()
              break
            }
            case 7: {
              obj.slotsTotal = reader.uint32()
              break
            }
            case 8: {
              if (opts.limits?.frameFormats != null && obj.frameFormats.length === opts.limits.frameFormats) {
                throw new MaxLengthError('Decode error - repeated field "frameFormats" had too many elements')
              }

              obj.frameFormats.push(reader.string())
              break
            }
            case 9: {
              obj.maxFrameWidth = reader.uint32()
              break
            }
            case 10: {
              obj.maxFrameHeight = reader.uint32()
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
          models: 0,
          frameFormats: 0
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
                field: `${prefix}.sequence`,
                value: reader.uint64Number()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.expiresAt`,
                value: reader.uint64Number()
              }
              break
            }
            case 4: {
              yield * PaymentBinding.codec().stream(reader, reader.uint32(), `${prefix}.payment`, {
                limits: opts.limits?.payment
              })

              break
            }
            case 5: {
              if (opts.limits?.models != null && obj.models === opts.limits.models) {
                throw new MaxLengthError('Streaming decode error - repeated field "models" had too many elements')
              }

              for (const evt of ModelOffer.codec().stream(reader, reader.uint32(), `${prefix}.models[]`, {
                limits: opts.limits?.models$
              })) {
                yield {
                  ...evt,
                  index: obj.models
                }
              }

              obj.models++

              break
            }
            case 6: {
              yield {
                field: `${prefix}.slotsFree`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.slotsTotal`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              if (opts.limits?.frameFormats != null && obj.frameFormats === opts.limits.frameFormats) {
                throw new MaxLengthError('Streaming decode error - repeated field "frameFormats" had too many elements')
              }

              yield {
                field: `${prefix}.frameFormats[]`,
                index: obj.frameFormats,
                value: reader.string()
              }

              obj.frameFormats++

              break
            }
            case 9: {
              yield {
                field: `${prefix}.maxFrameWidth`,
                value: reader.uint32()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.maxFrameHeight`,
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

  export interface AdvertBodyPeerIdFieldEvent {
    field: '$.peerId'
    value: string
  }

  export interface AdvertBodySequenceFieldEvent {
    field: '$.sequence'
    value: number
  }

  export interface AdvertBodyExpiresAtFieldEvent {
    field: '$.expiresAt'
    value: number
  }

  export interface AdvertBodyPaymentAddressFieldEvent {
    field: '$.payment.address'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AdvertBodyPaymentSignatureFieldEvent {
    field: '$.payment.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AdvertBodyModelsIdFieldEvent {
    field: '$.models[].id'
    value: string
    index: number
  }

  export interface AdvertBodyModelsPipelineFieldEvent {
    field: '$.models[].pipeline'
    value: string
    index: number
  }

  export interface AdvertBodyModelsSha256FieldEvent {
    field: '$.models[].sha256'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface AdvertBodyModelsWarmFieldEvent {
    field: '$.models[].warm'
    value: boolean
    index: number
  }

  export interface AdvertBodyModelsPricePerUnitWeiFieldEvent {
    field: '$.models[].pricePerUnitWei'
    value: string
    index: number
  }

  export interface AdvertBodyModelsUnitFieldEvent {
    field: '$.models[].unit'
    value: PricingUnit
    index: number
  }

  export interface AdvertBodySlotsFreeFieldEvent {
    field: '$.slotsFree'
    value: number
  }

  export interface AdvertBodySlotsTotalFieldEvent {
    field: '$.slotsTotal'
    value: number
  }

  export interface AdvertBodyFrameFormatsFieldEvent {
    field: '$.frameFormats[]'
    index: number
    value: string
  }

  export interface AdvertBodyMaxFrameWidthFieldEvent {
    field: '$.maxFrameWidth'
    value: number
  }

  export interface AdvertBodyMaxFrameHeightFieldEvent {
    field: '$.maxFrameHeight'
    value: number
  }

  export function encode (obj: Partial<AdvertBody>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AdvertBody.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertBody>): AdvertBody {
    return decodeMessage(buf, AdvertBody.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertBody>): Generator<AdvertBodyPeerIdFieldEvent | AdvertBodySequenceFieldEvent | AdvertBodyExpiresAtFieldEvent | AdvertBodyPaymentAddressFieldEvent | AdvertBodyPaymentSignatureFieldEvent | AdvertBodyModelsIdFieldEvent | AdvertBodyModelsPipelineFieldEvent | AdvertBodyModelsSha256FieldEvent | AdvertBodyModelsWarmFieldEvent | AdvertBodyModelsPricePerUnitWeiFieldEvent | AdvertBodyModelsUnitFieldEvent | AdvertBodySlotsFreeFieldEvent | AdvertBodySlotsTotalFieldEvent | AdvertBodyFrameFormatsFieldEvent | AdvertBodyMaxFrameWidthFieldEvent | AdvertBodyMaxFrameHeightFieldEvent> {
    return streamMessage(buf, AdvertBody.codec(), opts)
  }
}
