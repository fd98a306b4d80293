/**
 * Dev-only tooling: real redis-server, ipmi_sim BMCs and conductor processes started and owned by
 * the calling process (each dies with it), and the small helpers they need. Used by the demo
 * (apps/demo), the integration and end-to-end suites (test/), the benchmarks (bench/) and unit
 * specs that need a real socket client. No other lib and no shipped app (conductor, CLI, bmc-sim)
 * imports it; the linter enforces that.
 */
export * from './wait.js';
export * from './ports.js';
export * from './procs.js';
export * from './redis-server.js';
export * from './ipmi-sim.js';
export * from './conductor-process.js';
export * from './console-client.js';
export * from './tls-certs.js';
export * from './node-record.js';
