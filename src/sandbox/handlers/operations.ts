/** Toolset `operations`: read an asynchronous operation. */
import { notOwner, objectNotFound } from '../rules.js';
import type { ToolsetHandlers } from './shared.js';

export const operations = {
  operation_get: (ctx, p) => {
    const op = ctx.state.operations.get(p.operationId);
    if (!op) throw objectNotFound();
    if (op.accountId !== ctx.account.id) throw notOwner();
    return ctx.state.operationView(op, ctx.now);
  },
} satisfies ToolsetHandlers<'operations'>;
