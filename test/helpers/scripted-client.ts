/**
 * An SmtpClient against the scripted fake server: runs `run`, ends the
 * session (QUIT, or an abrupt close when the script ends without one), then
 * checks that the client sent exactly the script's client bytes and that
 * nothing is left open; returns what the server received.
 */
import assert from 'node:assert/strict';
import { SmtpClient, type ClientOptions } from '../../src/client/client.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './converse.js';
import { clientBytes, startFakeServer, type Outcome, type Step } from './fake-server.js';

export async function withScriptedClient(
  steps: readonly Step[],
  options: Partial<ClientOptions>,
  run: (client: SmtpClient) => Promise<void>,
  end: 'quit' | 'close' = 'quit',
): Promise<Outcome> {
  const server = await startFakeServer(steps);
  const client = new SmtpClient({
    server: server.host,
    port: server.port,
    clientName: 'client.example',
    envelopeFrom: 'a@x.org',
    addMissingHeaders: false,
    authSources: [],
    retries: 1,
    timeouts: SHORT_TIMEOUTS,
    ...options,
  });
  await run(client);
  if (end === 'quit') await client.quit();
  else client.close();
  const outcome = await server.done;
  assert.equal(outcome.received, clientBytes(steps));
  await assertNothingLeftOpen();
  return outcome;
}
