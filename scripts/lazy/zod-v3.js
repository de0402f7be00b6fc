/**
 * zod/v3 for the bundled CLI (scripts/build.mjs): the SDK falls back to it for zod 3 schemas only,
 * which flops-mcp never passes; the real module is evaluated if it ever is needed.
 */
export function object(...args) {
  return require('zod/v3').object(...args);
}
