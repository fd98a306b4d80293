export * from './connection.js';
export * from './keys.js';
export * from './scripts.js';
export * from './record-problems.js';
export * from './redis-errors.js';
