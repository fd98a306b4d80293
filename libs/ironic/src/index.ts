export * from './api-version.js';
export * from './links.js';
export * from './node-view.js';
export * from './node-query.js';
export * from './query-args.js';
export * from './conductor-view.js';
