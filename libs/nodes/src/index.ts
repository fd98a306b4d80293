export * from './node.model.js';
export * from './console-state.model.js';
export * from './node.validation.js';
export * from './node.repository.js';
export * from './console-status.repository.js';
export * from './node.service.js';
export * from './record-audit.js';
