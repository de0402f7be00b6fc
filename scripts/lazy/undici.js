/**
 * undici for the bundled CLI (scripts/build.mjs): undici is a chunk of its own, imported when the
 * first request is sent. `new Agent(options)` only records the options; the real pool is created
 * with the first request through it, and closing an agent that never sent anything loads nothing.
 */
let loading;
const load = () => {
  loading ??= import('undici').then((m) => m.default ?? m);
  return loading;
};

export class Agent {
  #options;
  #real;
  /** The real agent once created: requests go straight to it. */
  #ready;
  constructor(options) {
    this.#options = options;
  }
  /** The real undici Agent, created on first use. */
  real() {
    this.#real ??= load().then((undici) => {
      this.#ready = new undici.Agent(this.#options);
      return this.#ready;
    });
    return this.#real;
  }
  /** Dispatcher.request (the client sends origin and path through its agent). */
  request(options) {
    return this.#ready ? this.#ready.request(options) : this.real().then((agent) => agent.request(options));
  }
  async close() {
    if (this.#real) await (await this.#real).close();
  }
  async destroy(error) {
    if (this.#real) await (await this.#real).destroy(error);
  }
}

export async function request(url, options) {
  const undici = await load();
  if (!(options?.dispatcher instanceof Agent)) return undici.request(url, options);
  return undici.request(url, { ...options, dispatcher: await options.dispatcher.real() });
}
