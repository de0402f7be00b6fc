/**
 * `@modelcontextprotocol/server/_shims` for the bundled CLI (scripts/build.mjs). The SDK's Node shim
 * imports its JSON Schema validator, which evaluates all of ajv (three engines) and ajv-formats at
 * start-up (≈ 150 kB of code, ≈ 5 MB of RSS), while every Server constructs one that is used only
 * when a form elicitation's answer is checked against its schema (never at start, and the
 * validator builds its ajv engines on first use anyway). The real shim module is evaluated on the
 * first `getValidator` instead.
 */
import process from 'node:process';

let real;
const load = () => {
  real ??= require('@modelcontextprotocol/server/_shims');
  return real;
};

export class DefaultJsonSchemaValidator {
  #args;
  #real;
  constructor(...args) {
    this.#args = args;
  }
  #validator() {
    this.#real ??= new (load().DefaultJsonSchemaValidator)(...this.#args);
    return this.#real;
  }
  getValidator(schema) {
    return this.#validator().getValidator(schema);
  }
  get ajv() {
    return this.#validator().ajv;
  }
}

export { process };
