/**
 * What each API method does to the sandbox's state: one handler per row of the operation table,
 * one module per toolset. Each module is checked against its toolset's tools and this map against
 * `ToolName`, so the compiler proves every method is implemented exactly once; each handler's
 * parameters are the output type of its row's zod schema (already validated), and its context
 * carries the row itself.
 *
 * Checks happen when the request arrives (an error is synchronous, as the provider documents); the
 * effect of an asynchronous method is applied when its operation's time is up.
 */
import type { ToolName } from '../../api/operations.js';
import { backups } from './backups.js';
import { catalog } from './catalog.js';
import { config } from './config.js';
import { keys } from './keys.js';
import { network } from './network.js';
import { operations } from './operations.js';
import { power } from './power.js';
import type { Handler } from './shared.js';
import { snapshots } from './snapshots.js';
import { vms } from './vms.js';

export type { Ctx, Handler } from './shared.js';

export const handlers = {
  ...catalog,
  ...vms,
  ...power,
  ...config,
  ...network,
  ...snapshots,
  ...backups,
  ...keys,
  ...operations,
} satisfies { [T in ToolName]: Handler<T> };
