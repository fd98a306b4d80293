export * from './api-version.js';
export * from './links.js';
export * from './node-view.js';
