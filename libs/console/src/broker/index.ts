export * from './broker-api.js';
