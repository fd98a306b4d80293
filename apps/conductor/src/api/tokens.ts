/** Nest injection tokens for values built outside Nest (see runtime/conductor.runtime.ts). */
export const RUNTIME = Symbol('ConductorRuntime');
export const CONSOLE_CONTROL = Symbol('ConsoleControl');
export const NODE_SERVICE = Symbol('NodeService');
