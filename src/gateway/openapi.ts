/** The OpenAPI 3.1 description of every gateway route, served at /openapi.json. */

/** A response whose JSON body is one of the components' schemas. */
const json = (description: string, schema: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
})

const error = (description: string) => json(description, 'HTTPError')

const taskErrors = {
  '400': error('Bad request (e.g. an image that does not decode)'),
  '401': error('Missing or invalid bearer token'),
  '413': error('Upload larger than the gateway accepts'),
  '415': error('Upload is not a supported image (checked by content)'),
  '422': json('Validation error', 'HTTPValidationError'),
  '429': error('Too many concurrent requests for this token'),
  '500': error('Internal error'),
  '503': error('No peer in the mesh serves this task or model right now'),
}

/** A job file's query when it is read through a signed link (GET /v1/jobs/{id}/links) instead of a token. */
const linkParameters = [
  {
    name: 'expires',
    in: 'query',
    required: false,
    schema: { type: 'integer' },
    description: 'A link’s expiry (Unix ms)',
  },
  {
    name: 'sig',
    in: 'query',
    required: false,
    schema: { type: 'string' },
    description: 'A link’s signature',
  },
]

const imageForm = (required: string[], extra: Record<string, unknown>) => ({
  required: true,
  content: {
    'multipart/form-data': {
      schema: {
        type: 'object',
        required,
        properties: {
          image: { type: 'string', format: 'binary' },
          model_id: { type: 'string', default: '' },
          ...extra,
        },
      },
    },
  },
})

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'framemesh gateway',
      version: '1.0.0',
      description:
        "HTTP access to a framemesh peer-to-peer compute mesh. The task routes follow Livepeer's AI gateway API " +
        '(any prefix before the task name is accepted); /v1 routes are framemesh additions for video jobs.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        HTTPError: {
          type: 'object',
          required: ['detail'],
          properties: {
            detail: { type: 'object', required: ['msg'], properties: { msg: { type: 'string' } } },
          },
        },
        HTTPValidationError: {
          type: 'object',
          properties: {
            detail: {
              type: 'array',
              items: {
                type: 'object',
                required: ['loc', 'msg', 'type'],
                properties: {
                  loc: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
                  msg: { type: 'string' },
                  type: { type: 'string' },
                },
              },
            },
          },
        },
        ImageResponse: {
          type: 'object',
          required: ['images'],
          properties: {
            images: {
              type: 'array',
              items: {
                type: 'object',
                required: ['url', 'seed', 'nsfw'],
                properties: { url: { type: 'string' }, seed: { type: 'integer' }, nsfw: { type: 'boolean' } },
              },
            },
          },
        },
        ImageToTextResponse: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
        Offer: {
          type: 'object',
          properties: {
            peerId: { type: 'string' },
            modelId: { type: 'string' },
            pipeline: { type: 'string' },
            pricePerUnit: { type: 'string', description: 'wei per unit' },
            unit: { type: 'string' },
            slotsFree: { type: 'integer' },
            slotsTotal: { type: 'integer' },
            warm: { type: 'boolean' },
            latencyMs: { type: 'number' },
          },
        },
        Job: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            stages: { type: 'array', items: { type: 'string' } },
            status: { enum: ['running', 'done', 'failed'] },
            framesDone: { type: 'integer' },
            framesTotal: { type: 'integer' },
            windows: {
              type: 'object',
              description: 'a frame sent in windows: how many of the next frame’s windows are back',
              properties: { done: { type: 'integer' }, of: { type: 'integer' } },
            },
            peers: { type: 'array', items: { type: 'string' } },
            paidWei: { type: 'string', description: "tickets' expected value sent, wei" },
            text: { type: 'string' },
            verification: {
              type: 'object',
              description: 'with verify: what the checks found (final once the job ended)',
              properties: {
                share: { type: 'number' },
                strict: { type: 'boolean' },
                checked: { type: 'integer' },
                mismatches: { type: 'integer' },
                unverified: { type: 'integer', description: 'outputs no second orchestrator could check' },
                checkers: {
                  type: 'array',
                  items: { type: 'string' },
                  description: 'orchestrators that ran the checks',
                },
                blamed: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      stage: { type: 'integer' },
                      peerId: { type: 'string' },
                      against: { type: 'string' },
                      reason: { type: 'string' },
                    },
                  },
                },
              },
            },
            error: { type: 'string' },
            errorCode: { type: 'string' },
          },
        },
      },
    },
    security: [{ bearer: [] }, {}],
    paths: {
      '/upscale': {
        post: {
          summary: 'Upscale an image (ESRGAN on a mesh peer)',
          requestBody: imageForm(['prompt', 'image'], {
            prompt: { type: 'string' },
            safety_check: { type: 'boolean' },
            seed: { type: 'integer' },
            num_inference_steps: { type: 'integer' },
          }),
          responses: {
            '200': json('OK', 'ImageResponse'),
            ...taskErrors,
          },
        },
      },
      '/image-to-text': {
        post: {
          summary: 'Text in an image (PaddleOCR on a mesh peer)',
          requestBody: imageForm(['image'], { prompt: { type: 'string' } }),
          responses: {
            '200': json('OK', 'ImageToTextResponse'),
            ...taskErrors,
          },
        },
      },
      '/{task}': {
        post: {
          summary: 'Other Livepeer AI tasks: 503 until a peer serves them',
          parameters: [{ name: 'task', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '503': error('No peer serves this task') },
        },
      },
      '/v1/jobs': {
        get: {
          summary: 'List your jobs (those your token started)',
          responses: { '200': { description: 'OK' } },
        },
        post: {
          summary: 'Start a job on an image or a video',
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['file', 'pipeline'],
                  properties: {
                    file: { type: 'string', format: 'binary' },
                    pipeline: {
                      type: 'string',
                      description:
                        "a pipeline ('upscale') or a chain ('upscale,ocr'); 'pipeline:model' picks a model",
                    },
                    model_id: { type: 'string' },
                    every: {
                      type: 'integer',
                      minimum: 1,
                      description:
                        'OCR of a video (no interpolate stage): send only every n-th frame; default 1',
                    },
                    parallel: {
                      type: 'integer',
                      minimum: 1,
                      maximum: 16,
                      description:
                        'spread each stage over up to this many orchestrators at once (fewer when fewer sell it); default 1',
                    },
                    verify: {
                      type: 'number',
                      minimum: 0,
                      maximum: 1,
                      description:
                        "share of each stage's outputs also run on a second orchestrator and compared (e.g. 0.1); a peer found wrong is dropped and its work redone; blank or 0: no checks",
                    },
                    verify_strict: {
                      type: 'boolean',
                      description:
                        'with verify: fail the job (ERR_UNVERIFIABLE) rather than deliver an output no second orchestrator could check',
                    },
                  },
                },
              },
            },
          },
          responses: {
            '202': json('Started', 'Job'),
            ...taskErrors,
          },
        },
      },
      '/v1/jobs/{id}': {
        get: {
          summary: 'Job status (a caller sees only the jobs its token started)',
          responses: { '200': { description: 'OK' }, '404': error('No such job of yours') },
        },
        delete: {
          summary:
            'Cancel a running job (it fails with ERR_CANCELLED; work delivered so far stays paid), or remove a finished one with its files',
          responses: {
            '200': json('Cancelled: the job as it ended', 'Job'),
            '204': { description: 'Removed' },
            '404': error('No such job of yours'),
          },
        },
      },
      '/v1/jobs/{id}/events': {
        get: {
          summary:
            'Server-sent events: progress, peer, payment (check: true for a verification check), check, blamed, done, failed',
          responses: { '200': { description: 'text/event-stream' } },
        },
      },
      '/v1/jobs/{id}/output': {
        get: {
          summary:
            'The result: image/png, video/mp4 (interpolate: twice the frame rate), or for OCR JSON {frames: [{index, time (videos, s), lines: [{text, confidence, box}]}], text}',
          parameters: linkParameters,
          responses: {
            '200': { description: 'OK' },
            '206': { description: 'The requested byte range' },
            '403': error('A signed link that is forged or expired'),
            '409': error('Not done yet'),
          },
        },
      },
      '/v1/jobs/{id}/input': {
        get: {
          summary: 'The uploaded input',
          parameters: linkParameters,
          responses: {
            '200': { description: 'OK' },
            '206': { description: 'The requested byte range' },
            '403': error('A signed link that is forged or expired'),
          },
        },
      },
      '/v1/jobs/{id}/links': {
        get: {
          summary:
            'Signed links to the job’s input and (once done) output that need no token, for media elements that cannot send one; each reads that one file until it expires (1 hour by default, or the gateway restarts)',
          responses: {
            '200': {
              description:
                '{input: {url, expiresAt}, output?: {url, expiresAt}}; url is relative to the gateway',
            },
            '404': error('No such job of yours'),
          },
        },
      },
      '/v1/offers': {
        get: { summary: 'The order book: live offers', responses: { '200': { description: 'OK' } } },
      },
      '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'OK' } } } },
    },
  }
}
