/**
 * Runs sendMail against a scripted fake server and collects everything a test
 * asserts: the result or the error, every byte the client sent, the
 * transcript, and the handles left open afterwards (there must be none).
 */
import assert from 'node:assert/strict';
import { sendMail, type SendOptions, type SendResult, type MessageInput } from '../../src/index.js';
import { SmtpProtocolError } from '../../src/errors.js';
import { formatTrace } from '../../src/wire/trace.js';
import {
  clientBytes,
  fixture,
  startFakeServer,
  type FakeServerOptions,
  type Outcome,
  type Script,
  type Step,
} from './fake-server.js';

export interface Conversation {
  readonly result: SendResult | undefined;
  readonly error: SmtpProtocolError | undefined;
  readonly outcome: Outcome;
  readonly trace: readonly string[];
  /** The script played (as written for the server's port). */
  readonly steps: readonly Step[];
}

/**
 * The script of one plain delivery after the session is set up (a@x.org to b@y.org, body `hello`), then QUIT: what
 * the auth and STARTTLS tests expect once their own steps are done.
 */
export const DELIVERY = `
C: MAIL FROM:<a@x.org>
S: 250 ok
C: RCPT TO:<b@y.org>
S: 250 ok
C: DATA
S: 354 go
C: hello
C: .
S: 250 2.0.0 queued
C: QUIT
S: 221 bye
`;

export const SHORT_TIMEOUTS = { connect: 2000, greeting: 2000, command: 2000, dataBlock: 2000, dataEnd: 2000 } as const;

export async function converse(
  script: Script,
  options: Partial<SendOptions> = {},
  message: MessageInput | ((port: number) => MessageInput) = 'hello\r\n',
  serverOptions: FakeServerOptions = {},
): Promise<Conversation> {
  const server = await startFakeServer(script, serverOptions);
  const trace: string[] = [];
  let result: SendResult | undefined;
  let error: SmtpProtocolError | undefined;
  try {
    result = await sendMail(typeof message === 'function' ? message(server.port) : message, {
      server: server.host,
      port: server.port,
      clientName: 'client.example',
      envelopeFrom: 'a@x.org',
      recipients: ['b@y.org'],
      timeouts: SHORT_TIMEOUTS,
      tls: { ca: fixture('ca.pem') },
      authSources: [], // never the machine's own ~/.authinfo
      addMissingHeaders: false, // protocol tests send their message bytes as given
      retries: 1,
      onTrace: (event) => trace.push(formatTrace(event)),
      ...options,
    });
  } catch (caught) {
    assert.ok(caught instanceof SmtpProtocolError, `expected SmtpProtocolError, got ${String(caught)}`);
    error = caught;
  }
  server.stop();
  const outcome = await server.done;
  await assertNothingLeftOpen();
  return { result, error, outcome, trace, steps: server.steps };
}

/** The whole conversation happened as scripted: every client byte as expected. */
export function assertTranscript(conversation: Conversation, steps: readonly Step[]): void {
  assert.equal(conversation.outcome.received, clientBytes(steps));
  assert.equal(conversation.outcome.clientClosed, true, 'the client closed its socket');
}

const HANDLES = new Set(['TCPSocketWrap', 'TCPServerWrap', 'TLSWrap', 'Timeout']);

/**
 * Unix sockets (client and server) are PipeWraps, as the test process's own standard output and a child's pipes are:
 * a test that opens them counts these before (`pipeHandles()`) and gives the count to assertNothingLeftOpen.
 */
export function pipeHandles(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'PipeWrap' || name === 'PipeServerWrap').length;
}

/**
 * No socket, server or timer survives a finished send. A destroyed socket
 * takes a few event-loop turns to close its handle, so this looks a bounded
 * number of times (SETTLE_TURNS) before it decides that something leaked.
 * `pipes`: the pipeHandles() count before the test opened unix sockets; no more may be left.
 */
export async function assertNothingLeftOpen(pipes?: number): Promise<void> {
  let open: string[] = [];
  for (let turn = 0; turn < SETTLE_TURNS; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    open = process.getActiveResourcesInfo().filter((name) => HANDLES.has(name));
    if (pipes !== undefined && pipeHandles() > pipes) open.push(`${pipeHandles() - pipes} unix socket(s) or pipe(s)`);
    if (open.length === 0) return;
  }
  assert.deepEqual(open, [], `handles left open: ${open.join(', ')}`);
}

const SETTLE_TURNS = 50;
