export * from './member.model.js';
export * from './membership.repository.js';
export * from './membership.service.js';
export * from './claim.repository.js';
export * from './cluster-view.js';
export * from './lease-file.js';
export * from './failure-detector.js';
export * from './client-list.js';
