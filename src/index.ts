// The public face of the framemesh library. Each area exports only what apps need.
export * from './errors.js'
export * from './inference/index.js'
export * from './logger.js'
export * from './peer/index.js'
export * from './tickets/index.js'
