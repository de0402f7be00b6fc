/**
 * The SDK's AjvJsonSchemaValidator for the bundled CLI (scripts/build.mjs). The SDK builds one
 * (Ajv with its formats) in every Server's constructor; the server uses it only to check the
 * answer to an elicitation. Here Ajv and its formats are built on the first validation, with the
 * same options as the SDK's createDefaultAjvInstance, and validate exactly as the SDK's class does.
 */
function createDefaultAjvInstance() {
  const Ajv = require('ajv');
  const addFormats = require('ajv-formats');
  const ajv = new (Ajv.default ?? Ajv)({
    strict: false,
    validateFormats: true,
    validateSchema: false,
    allErrors: true,
  });
  (addFormats.default ?? addFormats)(ajv);
  return ajv;
}

export class AjvJsonSchemaValidator {
  #given;
  #ajv;
  constructor(ajv) {
    this.#given = ajv;
  }
  get _ajv() {
    this.#ajv ??= this.#given ?? createDefaultAjvInstance();
    return this.#ajv;
  }
  getValidator(schema) {
    const ajv = this._ajv;
    const validate =
      '$id' in schema && typeof schema.$id === 'string'
        ? (ajv.getSchema(schema.$id) ?? ajv.compile(schema))
        : ajv.compile(schema);
    return (input) =>
      validate(input)
        ? { valid: true, data: input, errorMessage: undefined }
        : { valid: false, data: undefined, errorMessage: ajv.errorsText(validate.errors) };
  }
}
