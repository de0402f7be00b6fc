/**
 * The Flops API sandbox: a stateful simulator of the provider's HTTP API on a local port, seeded
 * with the example objects of the provider's document. See server.ts (HTTP, control endpoints),
 * handlers/ (what each method does, by toolset), rules.ts (its rules and texts), state.ts (the
 * world and its lazy clock) and faults.ts (fault injection); docs/api.md for the API itself.
 */
export { runSandboxCli, type SandboxCliIo } from './cli.js';
export { type FaultHandle, type FaultKind, type FaultSpec, Faults, RequestCounters } from './faults.js';
export type { Account, OperationRecord, VmRecord } from './model.js';
export { DEFAULT_ACCOUNT, OTHER_ACCOUNT } from './seed.js';
export {
  API_PREFIX,
  CONTROL_PREFIX,
  type ResponseShape,
  type Sandbox,
  type SandboxOptions,
  startSandbox,
} from './server.js';
export { RUNNING, SandboxState, SHUTOFF } from './state.js';
