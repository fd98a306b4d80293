export * from './ring.js';
