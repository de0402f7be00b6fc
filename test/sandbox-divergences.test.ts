/**
 * What independent clients saw the live API do beyond the provider's document, and the document's
 * rules the sandbox models (docs/api.md marks each as documented, observed or decided), over plain
 * HTTP: the raw query strings those clients send, the envelopes they read.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { invalid, type Json, ok, PASSWORD, type Query, run, waitOp } from './sandbox-helpers.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ port: 0, timeScale: 0.01 });
});
afterAll(() => sb.close());
beforeEach(() => sb.reset());

const vm = async (id: number): Promise<Json> => (await ok(sb, `vm/${id}/`)).result;

/** Install from raw query values (strings, as a Python client sends them) and wait for it. */
async function install(params: Query = {}): Promise<number> {
  const body = await ok(sb, 'vm/install/', { tenantId: 10081, distributionId: 230, tariffId: 3, ...params });
  expect((await waitOp(sb, body.operationId)).status).toBe('DONE');
  return body.result;
}

describe('booleans are read as a Spring binder reads them', () => {
  it('true/false/on/off/yes/no/1/0 in any case; Python’s True/False', async () => {
    for (const [text, value] of [
      ['True', true],
      ['FALSE', false],
      ['on', true],
      ['Off', false],
      ['YES', true],
      ['no', false],
      ['1', true],
      ['0', false],
      [' true ', true],
    ] as const) {
      const id = await install({ openSupportAccess: text, sendPassword: 'False', password: PASSWORD });
      expect((await vm(id)).accessUsers, text).toEqual(value ? ['support@serveroid.com'] : []);
    }
  });

  it('False is false where it matters: a memory decrease without a restart is refused', async () => {
    await invalid(
      sb,
      'vm/85662/memory_change/',
      { tenantId: 111, memory: 512, allowRestart: 'False' },
      'allowRestart',
    );
    const op = await run(sb, 'vm/85662/memory_change/', { tenantId: 111, memory: 512, allowRestart: 'True' });
    expect(op.status).toBe('DONE');
    expect((await vm(85662)).memory).toBe(512);
  });

  it('anything else is a field error naming the parameter', async () => {
    for (const text of ['maybe', 'tru', 'y', '2', 'null']) {
      await invalid(
        sb,
        'vm/install/',
        { tenantId: 10081, distributionId: 230, tariffId: 3, sendPassword: text },
        'sendPassword',
      );
    }
  });
});
