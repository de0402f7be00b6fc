export { DEFAULT_BASE_URL, FlopsClient, type FlopsClientOptions } from './api/client.js';
export * from './api/errors.js';
export {
  isAsync,
  isDestructive,
  isRead,
  OPERATIONS,
  type OperationDef,
  type ParamsOf,
  type ResultOf,
  type ToolName,
  type Toolset,
} from './api/operations.js';
export type * from './api/types.js';
