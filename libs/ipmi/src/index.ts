/**
 * Native IPMI v2.0 / RMCP+ ("lanplus") for solgate: pure protocol code under protocol/, the UDP
 * client under client/, a fleet BMC simulator under sim/. See README.md.
 */
export * from './errors.js';
export * from './protocol/constants.js';
export * from './protocol/cipher-suites.js';
export * from './protocol/commands.js';
export * from './protocol/crypto.js';
export * from './protocol/ipmi-message.js';
export * from './protocol/rakp.js';
export * from './protocol/rmcp.js';
export * from './protocol/sol-packet.js';
export * from './protocol/sol-endpoint.js';
export * from './client/options.js';
export * from './client/transport.js';
export * from './client/session.js';
export * from './client/sol-console.js';
export * from './sim/serial-line.js';
export * from './sim/sim-bmc.js';
export * from './sim/fleet.js';
export * from './sim/control-server.js';
export * from './client/escape-sequences.js';
