/**
 * A real SMTP server for integration tests: the npm `smtp-server` package, in
 * this process, on 127.0.0.1 port 0, with the fixture certificate. It records
 * every envelope and the exact message bytes it received (after dot-unstuffing).
 */
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { AddressInfo, Server } from 'node:net';
import { assertNothingLeftOpen } from './converse.js';
import { fixture } from './fake-server.js';

export interface Received {
  readonly from: string;
  readonly to: readonly string[];
  readonly body: string | undefined;
  /** The SIZE= parameter of MAIL FROM, when given. */
  readonly size: string | undefined;
  readonly data: Buffer;
  readonly secure: boolean;
  /** MAIL FROM's parameters as the server decoded them (xtext undone), e.g. `{ RET: 'HDRS', REQUIRETLS: true }`. */
  readonly mailArgs: Readonly<Record<string, string | true>>;
  /** Each RCPT TO's parameters, decoded, in order. */
  readonly rcptArgs: readonly Readonly<Record<string, string | true>>[];
}

export interface RealServer {
  readonly port: number;
  readonly received: Received[];
  /** MAIL FROM commands seen, accepted or not. */
  readonly mailCommands: number;
  /** The listening net.Server (for connection counts). */
  readonly raw: Server;
  /** The SMTPServer itself (for its events: 'error' for a client that reset its connection). */
  readonly smtp: SMTPServer;
  close(): Promise<void>;
}

export interface RealServerOptions extends SMTPServerOptions {
  /** The loopback address to listen on: 127.0.0.1 (default), ::1 or another 127.x address. */
  readonly host?: string;
  /** The port to listen on; default 0 (any free one). */
  readonly listenPort?: number;
  /** A unix socket to listen on instead (`port` is then 0). */
  readonly listenPath?: string;
}

export async function startRealServer({
  host = '127.0.0.1',
  listenPort = 0,
  listenPath,
  ...options
}: RealServerOptions = {}): Promise<RealServer> {
  const received: Received[] = [];
  let mailCommands = 0;
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    key: fixture('server-key.pem'),
    cert: fixture('server.pem'),
    closeTimeout: 1000,
    onMailFrom(_address, _session, callback) {
      mailCommands++;
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const envelope = session.envelope;
        const args = envelope.mailFrom === false ? false : (envelope.mailFrom.args as Record<string, string> | false);
        received.push({
          from: envelope.mailFrom === false ? '' : envelope.mailFrom.address,
          to: envelope.rcptTo.map((rcpt) => rcpt.address),
          body: args === false ? undefined : args['BODY'],
          size: args === false ? undefined : args['SIZE'],
          data: Buffer.concat(chunks),
          secure: session.secure,
          mailArgs: args === false ? {} : { ...args },
          rcptArgs: envelope.rcptTo.map((rcpt) => ({ ...((rcpt.args as Record<string, string> | false) || {}) })),
        });
        callback(null);
      });
    },
    ...options,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (listenPath === undefined) server.listen(listenPort, host, () => resolve());
    else server.listen(listenPath, () => resolve());
  });
  // Once listening, smtp-server reports a client's reset connection (a killed process, a dropped socket) as an
  // 'error' event: the client's side of it is what tests check, so it must not crash the test process.
  server.on('error', () => {});
  const port = listenPath === undefined ? (server.server.address() as AddressInfo).port : 0;
  return {
    port,
    received,
    get mailCommands() {
      return mailCommands;
    },
    raw: server.server,
    smtp: server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Runs `run` against a fresh server, closes it, and checks that the client left no socket or timer open. */
export async function withRealServer(
  options: RealServerOptions,
  run: (server: RealServer) => Promise<void>,
): Promise<void> {
  const server = await startRealServer(options);
  try {
    await run(server);
  } finally {
    await server.close();
  }
  await assertNothingLeftOpen();
}
