/**
 * A loopback fake SMTP server that plays a script, as Go's net/smtp tests do:
 * the server's lines, and the exact bytes the client must send, compared
 * whole. Faults: byte-at-a-time replies, disconnects, silence, bytes injected
 * before a STARTTLS handshake.
 *
 * Script lines (the `script` tag):
 *   S: text    the server sends text + CRLF (consecutive S lines: one write)
 *   S1: text   the same, one byte per TCP segment
 *   S~: text   the server sends text without a line end
 *   C: text    the client must send text + CRLF (the server waits for it)
 *   !tls       the server starts TLS on the connection (after a 220 to STARTTLS)
 *   !close     the server closes the connection
 *   !hang      the server stays silent until the client closes
 *
 * One connection per server; the server stops listening once it has it, and
 * stops by itself after SAFETY_MS whatever happens. It listens on 127.0.0.1,
 * or on a unix socket (`path`).
 */
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

export type Step =
  | { readonly kind: 'send'; readonly text: string; readonly chunkSize: number }
  | { readonly kind: 'expect'; readonly text: string }
  | { readonly kind: 'tls' | 'close' | 'hang' };

const SAFETY_MS = 15_000;

export function script(strings: TemplateStringsArray, ...values: unknown[]): Step[] {
  const source = strings.reduce((all, part, i) => all + part + (i < values.length ? String(values[i]) : ''), '');
  const steps: Step[] = [];
  for (const raw of source.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const step = parseLine(line);
    const last = steps[steps.length - 1];
    if (step.kind === 'send' && last?.kind === 'send' && last.chunkSize === step.chunkSize) {
      steps[steps.length - 1] = { ...last, text: last.text + step.text };
    } else if (step.kind === 'expect' && last?.kind === 'expect') {
      steps[steps.length - 1] = { kind: 'expect', text: last.text + step.text };
    } else {
      steps.push(step);
    }
  }
  return steps;
}

function parseLine(line: string): Step {
  if (line === '!tls' || line === '!close' || line === '!hang')
    return { kind: line.slice(1) as 'tls' | 'close' | 'hang' };
  const match = /^(S|S1|S~|C):(?: (.*))?$/.exec(line);
  if (match === null) throw new Error(`bad script line: ${line}`);
  const text = match[2] ?? '';
  switch (match[1]) {
    case 'S':
      return { kind: 'send', text: `${text}\r\n`, chunkSize: Infinity };
    case 'S1':
      return { kind: 'send', text: `${text}\r\n`, chunkSize: 1 };
    case 'S~':
      return { kind: 'send', text, chunkSize: Infinity };
    default:
      return { kind: 'expect', text: `${text}\r\n` };
  }
}

/** Everything the client must send, in order: what `received` is compared with. */
export function clientBytes(steps: readonly Step[]): string {
  return steps.map((step) => (step.kind === 'expect' ? step.text : '')).join('');
}

export const fixture = (name: string): Buffer =>
  readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url));

export interface Outcome {
  /** Every byte the client sent, as UTF-8 text. */
  readonly received: string;
  /** The same bytes as they arrived, one entry per read (with Nagle off, one client write arrives as one read). */
  readonly segments: readonly string[];
  /** True when every step ran. */
  readonly finished: boolean;
  /** True when the client closed (or reset) the connection. */
  readonly clientClosed: boolean;
}

export interface FakeServer {
  readonly host: '127.0.0.1';
  /** The TCP port; 0 on a unix socket. */
  readonly port: number;
  /** The script played (written for this port when given as a function). */
  readonly steps: readonly Step[];
  /** The unix socket's path, when it listens on one. */
  readonly path: string | undefined;
  /** Resolves when the connection is over (the client closed or the server gave up). */
  readonly done: Promise<Outcome>;
  /** Stops listening; when no client ever came, `done` resolves with nothing received. */
  stop(): void;
}

export interface FakeServerOptions {
  /** Accept implicit TLS (port 465 style) instead of plain TCP. */
  readonly implicitTls?: boolean;
  /** Listen on this unix socket instead of a loopback port (the path must not exist; it is removed at the end). */
  readonly path?: string;
}

/** A script, or a function that writes it once the server's port is known (OAUTHBEARER sends the port). */
export type Script = readonly Step[] | ((port: number) => readonly Step[]);

export async function startFakeServer(script: Script, options: FakeServerOptions = {}): Promise<FakeServer> {
  const credentials = { key: fixture('server-key.pem'), cert: fixture('server.pem') };
  let steps: readonly Step[] = [];
  let resolveDone!: (outcome: Outcome) => void;
  const done = new Promise<Outcome>((resolve) => (resolveDone = resolve));
  let connected = false;
  const onConnection = (socket: net.Socket): void => {
    connected = true;
    server.close();
    void play(socket, steps, credentials).then(resolveDone);
  };
  const server =
    options.implicitTls === true ? tls.createServer(credentials, onConnection) : net.createServer(onConnection);
  await new Promise<void>((resolve) =>
    options.path === undefined ? server.listen(0, '127.0.0.1', resolve) : server.listen(options.path, resolve),
  );
  const port = options.path === undefined ? (server.address() as net.AddressInfo).port : 0;
  steps = typeof script === 'function' ? script(port) : script;
  const safety = setTimeout(() => server.close(), SAFETY_MS);
  // Raw TCP sockets, so that a TLS handshake that never completed leaves nothing open.
  const raw = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    raw.add(socket);
    socket.on('close', () => raw.delete(socket));
  });
  server.on('close', () => {
    clearTimeout(safety);
    if (connected) return;
    for (const socket of raw) socket.destroy();
    resolveDone({ received: '', segments: [], finished: false, clientClosed: false });
  });
  const stop = (): void => {
    if (server.listening) server.close();
  };
  return { host: '127.0.0.1', port, path: options.path, steps, done, stop };
}

async function play(
  first: net.Socket,
  steps: readonly Step[],
  credentials: tls.SecureContextOptions,
): Promise<Outcome> {
  let socket = first;
  const chunks: Buffer[] = [];
  let receivedBytes = 0;
  let expectedBytes = 0;
  let closed = false;
  let wake = (): void => {};
  const until = (ready: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => (ready() || closed ? resolve() : void (wake = check));
      check();
    });
  const listen = (s: net.Socket): void => {
    s.setNoDelay(true);
    s.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      receivedBytes += chunk.length;
      wake();
    });
    s.on('error', () => {});
    s.on('close', () => {
      closed = true;
      wake();
    });
  };
  const safety = setTimeout(() => socket.destroy(), SAFETY_MS);
  listen(socket);
  let finished = true;
  for (const step of steps) {
    if (closed) {
      finished = false;
      break;
    }
    if (step.kind === 'send') {
      await write(socket, step.text, step.chunkSize);
    } else if (step.kind === 'expect') {
      expectedBytes += Buffer.byteLength(step.text);
      await until(() => receivedBytes >= expectedBytes);
    } else if (step.kind === 'tls') {
      socket.removeAllListeners('data');
      socket.removeAllListeners('close');
      const secured = new tls.TLSSocket(socket, { isServer: true, ...credentials });
      secured.on('close', () => socket.destroy());
      listen(secured);
      socket = secured;
      await new Promise((resolve) => {
        secured.once('secure', resolve);
        secured.once('close', resolve);
      });
    } else if (step.kind === 'close') {
      socket.end();
      setTimeout(() => socket.destroy(), 200).unref();
    }
    // 'hang' needs no action: wait for the client below.
  }
  await until(() => false);
  clearTimeout(safety);
  return {
    received: Buffer.concat(chunks).toString('utf8'),
    segments: chunks.map((chunk) => chunk.toString('utf8')),
    finished,
    clientClosed: closed,
  };
}

async function write(socket: net.Socket, text: string, chunkSize: number): Promise<void> {
  const bytes = Buffer.from(text, 'utf8');
  if (chunkSize === Infinity) {
    socket.write(bytes);
    return;
  }
  for (let at = 0; at < bytes.length && !socket.destroyed; at += chunkSize) {
    socket.write(bytes.subarray(at, at + chunkSize));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
