/**
 * zod-to-json-schema for the bundled CLI (scripts/build.mjs): the SDK converts zod 3 schemas with
 * it, which flops-mcp never passes; the real module is evaluated if it ever is needed.
 */
export function zodToJsonSchema(...args) {
  return require('zod-to-json-schema').zodToJsonSchema(...args);
}
