// Moved to libs/testing (shared with the demo and the unit specs); re-exported here so test imports stay short.
export { isAlive, listProcesses, findProcesses, type ProcInfo } from '#libs/testing';
