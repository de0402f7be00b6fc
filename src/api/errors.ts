/**
 * Errors of the Flops client. One class for what the provider said (`FlopsApiError`, carrying its
 * `errorCode`), one for what went wrong on the way (`FlopsTransportError`, with a `kind`), and one
 * for input refused before anything was sent (`FlopsValidationError`).
 *
 * No message built here contains a request URL, an apiKey or a password: messages name the
 * method (its tool name), never the URL, and any text that came from elsewhere (a cause's message,
 * a body excerpt) passes through `redact` first.
 */

/** Error codes documented, observed or decided (docs/api.md, "Error codes"); others are kept as they come. */
export type FlopsErrorCode =
  | 'error.not.owner'
  | 'error.object.not.found'
  | 'error.vm.not.found'
  | 'error.operation.already.started'
  | 'error.vm.volume.under.operation'
  | 'vm.limit.exceed'
  | 'unexpected.exception'
  | 'error.inet.ip.guest.add'
  | 'error.inet.ip.guest.remove'
  | 'error.vm.guest.timeout'
  | 'error.balance.insufficient'
  | 'error.vm.clone.unsupported'
  | (string & {});

/** The codes named above, without the open-ended `string` (a code the provider may add). */
export type KnownFlopsErrorCode = FlopsErrorCode extends infer C
  ? C extends unknown
    ? string extends C
      ? never
      : C
    : never
  : never;

export interface FieldError {
  field: string;
  message: string;
  [extra: string]: unknown;
}

export abstract class FlopsError extends Error {
  /** The tool name of the API method that failed (e.g. `vm_install`). */
  readonly method: string;
  constructor(method: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.method = method;
  }
}

export class FlopsApiError extends FlopsError {
  override readonly name = 'FlopsApiError';
  readonly errorCode: FlopsErrorCode | null;
  readonly errorMessage: string;
  readonly fieldErrors: FieldError[];
  readonly httpStatus: number;
  constructor(args: {
    method: string;
    errorCode: string | null;
    errorMessage: string;
    fieldErrors?: FieldError[];
    httpStatus?: number;
  }) {
    const fieldText = (args.fieldErrors ?? []).map((f) => `${f.field}: ${f.message}`).join('; ');
    super(
      args.method,
      `${args.method} failed: ${args.errorCode ?? 'validation error'}: ${args.errorMessage}${fieldText ? ` (${fieldText})` : ''}`,
    );
    this.errorCode = args.errorCode;
    this.errorMessage = args.errorMessage;
    this.fieldErrors = args.fieldErrors ?? [];
    this.httpStatus = args.httpStatus ?? 200;
  }
}

export type TransportErrorKind =
  | 'timeout' // the call's deadline passed
  | 'aborted' // the caller cancelled
  | 'network' // refused, reset, DNS, socket closed, body cut short
  | 'http' // a status other than 200
  | 'parse' // a body that is not the JSON envelope
  | 'throttled'; // refused by our own ceiling on requests to the provider (FLOPS_PROVIDER_RATE): nothing was sent

export class FlopsTransportError extends FlopsError {
  override readonly name = 'FlopsTransportError';
  readonly kind: TransportErrorKind;
  readonly httpStatus: number | undefined;
  /** Seconds the server asked us to wait (429/503 Retry-After), when given. */
  readonly retryAfter: number | undefined;
  /** How many requests were sent for this call (reads may be retried). */
  readonly attempts: number;
  constructor(args: {
    method: string;
    kind: TransportErrorKind;
    message: string;
    httpStatus?: number | undefined;
    retryAfter?: number | undefined;
    attempts?: number;
    cause?: unknown;
  }) {
    super(args.method, `${args.method}: ${args.message}`, { cause: args.cause });
    this.kind = args.kind;
    this.httpStatus = args.httpStatus;
    this.retryAfter = args.retryAfter;
    this.attempts = args.attempts ?? 1;
  }
}

export interface ValidationIssue {
  path: string;
  message: string;
}

/** Input refused locally: nothing was sent. */
export class FlopsValidationError extends FlopsError {
  override readonly name = 'FlopsValidationError';
  readonly issues: ValidationIssue[];
  constructor(method: string, issues: ValidationIssue[]) {
    super(
      method,
      `Invalid arguments for ${method}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`,
    );
    this.issues = issues;
  }
}

/** `isFlopsError(err)` or `isFlopsError(err, 'error.not.owner', …)` for provider codes. */
export function isFlopsError(err: unknown, ...codes: string[]): err is FlopsApiError {
  if (!(err instanceof FlopsApiError)) return false;
  return codes.length === 0 || (err.errorCode !== null && codes.includes(err.errorCode));
}

export function isTransportError(err: unknown, ...kinds: TransportErrorKind[]): err is FlopsTransportError {
  return err instanceof FlopsTransportError && (kinds.length === 0 || kinds.includes(err.kind));
}

/**
 * Remove secrets from a text that may have come from elsewhere: query-string values of `apiKey`,
 * `password` and `clientId`-style credentials, plus any literal secret values passed in.
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text.replace(/([?&](?:apiKey|password)=)[^&\s"']*/gi, '$1[REDACTED]');
  for (const secret of secrets) {
    if (secret && secret.length >= 3) out = out.split(secret).join('[REDACTED]');
  }
  return out;
}
