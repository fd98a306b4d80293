export * from './errors.js';
export * from './ids.js';
export * from './clock.js';
export * from './backoff.js';
export * from './paths.js';
export * from './params.js';
export * from './conductor-group.js';
export * from './lookup.js';
