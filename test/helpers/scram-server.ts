/**
 * A small SMTP server in this process that speaks SCRAM as a server would (npm smtp-server has no SCRAM, and
 * Debian 12's Dovecot 2.3 no channel binding): STARTTLS with the fixture certificate, then SCRAM-SHA-1,
 * SCRAM-SHA-256 and SCRAM-SHA-256-PLUS checked against its own side of the TLS session (tls-exporter from its socket,
 * tls-server-end-point from its certificate), with the reference computations of scram-reference.ts; then MAIL,
 * RCPT, DATA and QUIT, accepted. It records every login and every message.
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { fixture } from './fake-server.js';
import { finalMessages, type ScramHash } from './scram-reference.js';

export interface Login {
  readonly mechanism: string;
  /** The client's GS2 header (`p=tls-exporter,,`, `y,,`, `n,,`). */
  readonly gs2: string;
  /** The TLS version the login ran on, if any. */
  readonly protocol: string | null;
  /** undefined when the login succeeded, else the `e=` error sent. */
  readonly error: string | undefined;
}

export interface ScramServerOptions {
  readonly user: string;
  readonly password: string;
  /** The AUTH line's mechanisms (after STARTTLS). */
  readonly mechanisms: readonly string[];
  readonly maxVersion?: tls.SecureVersion;
  /** Compute the binding over other bytes, as a server behind a TLS-terminating middlebox would see it. */
  readonly otherSession?: boolean;
}

export interface ScramServer {
  readonly port: number;
  readonly logins: Login[];
  /** Messages received (the DATA text). */
  readonly messages: string[];
  close(): Promise<void>;
}

const HASHES: Readonly<Record<string, ScramHash>> = {
  'SCRAM-SHA-1': 'sha1',
  'SCRAM-SHA-256': 'sha256',
  'SCRAM-SHA-256-PLUS': 'sha256',
};

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

export async function startScramServer(options: ScramServerOptions): Promise<ScramServer> {
  const logins: Login[] = [];
  const messages: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    void converse(socket, options, logins, messages).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    logins,
    messages,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Lines from a socket that may be swapped for its TLS wrapper. */
class Lines {
  #buffer = '';
  #waiting: ((line: string | undefined) => void) | undefined;
  #closed = false;

  attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer += chunk.toString('utf8');
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  next(): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.#wake();
    });
  }

  #wake(): void {
    const resolve = this.#waiting;
    if (resolve === undefined) return;
    const end = this.#buffer.indexOf('\r\n');
    if (end >= 0) {
      const line = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      this.#waiting = undefined;
      resolve(line);
    } else if (this.#closed) {
      this.#waiting = undefined;
      resolve(undefined);
    }
  }
}

async function converse(first: net.Socket, options: ScramServerOptions, logins: Login[], messages: string[]) {
  let socket: net.Socket = first;
  let secured: tls.TLSSocket | undefined;
  const lines = new Lines();
  lines.attach(socket);
  const send = (text: string): void => void socket.write(`${text}\r\n`);
  send('220 scram.test ESMTP');
  for (;;) {
    const line = await lines.next();
    if (line === undefined) return;
    const [verb = '', ...args] = line.split(' ');
    switch (verb.toUpperCase()) {
      case 'EHLO':
        send(
          secured === undefined
            ? '250-scram.test\r\n250 STARTTLS'
            : `250-scram.test\r\n250 AUTH ${options.mechanisms.join(' ')}`,
        );
        break;
      case 'STARTTLS': {
        send('220 go ahead');
        socket.removeAllListeners('data');
        socket.removeAllListeners('close');
        const key = fixture('server-key.pem');
        const cert = fixture('server.pem');
        const maxVersion = options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion };
        secured = new tls.TLSSocket(socket, { isServer: true, key, cert, ...maxVersion });
        await new Promise((resolve) => secured?.once('secure', resolve));
        socket = secured;
        lines.attach(socket);
        break;
      }
      case 'AUTH': {
        const mechanism = (args[0] ?? '').toUpperCase();
        const hash = HASHES[mechanism];
        if (secured === undefined || hash === undefined || !options.mechanisms.includes(mechanism)) {
          send('504 5.5.4 unrecognized authentication type');
          break;
        }
        const login = await scram(mechanism, hash, args[1], secured, options, lines, send);
        logins.push(login);
        send(login.error === undefined ? '235 2.7.0 ok' : '535 5.7.8 authentication failed');
        break;
      }
      case 'DATA': {
        send('354 go');
        let text = '';
        for (let data = await lines.next(); data !== undefined && data !== '.'; data = await lines.next())
          text += `${data}\n`;
        messages.push(text);
        send('250 2.0.0 queued');
        break;
      }
      case 'QUIT':
        send('221 bye');
        socket.end();
        return;
      default:
        send('250 ok'); // MAIL, RCPT, RSET, NOOP
    }
  }
}

/** One SCRAM exchange, server side (RFC 5802 §5); an `e=` error is sent as the server-final-message. */
async function scram(
  mechanism: string,
  hash: ScramHash,
  initial: string | undefined,
  socket: tls.TLSSocket,
  options: ScramServerOptions,
  lines: Lines,
  send: (text: string) => void,
): Promise<Login> {
  const clientFirst = unb64(initial ?? (await lines.next()) ?? '');
  const gs2 = /^[^,]*,[^,]*,/.exec(clientFirst)?.[0] ?? '';
  const protocol = socket.getProtocol();
  const done = (error: string | undefined): Login => ({ mechanism, gs2, protocol, error });
  const user = /,n=([^,]*)/.exec(`,${clientFirst.slice(gs2.length)}`)?.[1];
  const clientNonce = /,r=([^,]*)/.exec(clientFirst)?.[1] ?? '';
  const salt = randomBytes(16).toString('base64');
  const serverFirst = `r=${clientNonce}${randomBytes(12).toString('base64')},s=${salt},i=4096`;
  send(`334 ${b64(serverFirst)}`);
  const clientFinal = unb64((await lines.next()) ?? '');
  const plus = mechanism.endsWith('-PLUS');
  let bindingData: Buffer | undefined;
  let error: string | undefined;
  if (plus && gs2 === 'p=tls-exporter,,')
    bindingData = socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  else if (plus && gs2 === 'p=tls-server-end-point,,')
    bindingData = createHash('sha256')
      .update(new X509Certificate(fixture('server.pem')).raw)
      .digest();
  else if (plus) error = 'unsupported-channel-binding-type';
  else if (gs2.startsWith('p=')) error = 'channel-binding-not-supported';
  else if (gs2 === 'y,,' && options.mechanisms.some((name) => name.endsWith('-PLUS')))
    error = 'server-does-support-channel-binding';
  if (options.otherSession === true && bindingData !== undefined) bindingData = Buffer.alloc(bindingData.length, 0x55);
  const expected = finalMessages({
    hash,
    password: options.password,
    clientFirst,
    serverFirst,
    ...(bindingData ? { bindingData } : {}),
  });
  if (error === undefined && clientFinal.split(',')[0] !== expected.clientFinal.split(',')[0])
    error = 'channel-bindings-dont-match';
  if (error === undefined && (user !== options.user || clientFinal !== expected.clientFinal)) error = 'invalid-proof';
  send(`334 ${b64(error === undefined ? expected.serverFinal : `e=${error}`)}`);
  await lines.next(); // the client's empty response
  return done(error);
}
