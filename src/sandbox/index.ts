/**
 * The Flops API sandbox: a stateful simulator of the provider's HTTP API on a local port, seeded
 * with the document's example objects. See server.ts (HTTP, control endpoints), handlers.ts (what
 * each method does), state.ts (the world and its lazy clock) and faults.ts (fault injection).
 */
export { runSandboxCli, type SandboxCliIo } from './cli.js';
export { type FaultHandle, type FaultKind, type FaultSpec, Faults, RequestCounters } from './faults.js';
export type { Account, OperationRecord, VmRecord } from './model.js';
export { DEFAULT_ACCOUNT, OTHER_ACCOUNT } from './seed.js';
export { API_PREFIX, CONTROL_PREFIX, type Sandbox, type SandboxOptions, startSandbox } from './server.js';
export { RUNNING, SandboxState, SHUTOFF } from './state.js';
