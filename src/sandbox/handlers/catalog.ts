/** Toolset `catalog`: the account's tenants, and the distributions, software and tariffs on offer. */
import type { ToolsetHandlers } from './shared.js';

export const catalog = {
  tenant_list: (ctx) =>
    [...ctx.state.tenants.values()]
      .filter((t) => t.accountId === ctx.account.id)
      .map((t) => ctx.state.tenantView(t)),

  distribution_list: (ctx) =>
    [...ctx.state.distributions.values()].filter((d) => d.listed).map((d) => ctx.state.distributionView(d)),

  software_list: (ctx) => [...ctx.state.software.values()].map((s) => ctx.state.softwareView(s)),

  tariff_list: (ctx) =>
    [...ctx.state.tariffs.values()].filter((t) => t.listed).map((t) => ctx.state.tariffView(t)),
} satisfies ToolsetHandlers<'catalog'>;
