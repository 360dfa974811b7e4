/**
 * The clients under test. Each cell opens a Driver: `send()` delivers one
 * message of the workload and resolves once the server accepted it, and
 * `concurrency` says how many sends the runner keeps in flight. The raw
 * ceiling is not a Driver (it writes pre-rendered batches): see raw-session.ts.
 */
import type { Readable } from 'node:stream';
import * as smtpmail from '../src/index.js';
import type { ClientOptions, MessageOptions, SendResult } from '../src/index.js';
import type { Workload } from './workloads.js';

export const ENVELOPE_FROM = 'bench@example.org';
export const RECIPIENT = 'sink@example.org';

export const CELL_NAMES = [
  'sendMail',
  'client-seq',
  'client-seq-data',
  'client-64',
  'client-64-data',
  'pool-4',
  'nm-connection',
  'nm-pool-1',
  'nm-pool-default',
  'raw-seq',
  'raw',
] as const;
export type CellName = (typeof CELL_NAMES)[number];

export const CELL_LABELS: Readonly<Record<CellName, string>> = {
  sendMail: 'smtpmail sendMail',
  'client-seq': 'smtpmail SmtpClient sequential',
  'client-seq-data': 'smtpmail SmtpClient sequential (DATA)',
  'client-64': 'smtpmail SmtpClient 64 in flight',
  'client-64-data': 'smtpmail SmtpClient 64 in flight (DATA)',
  'pool-4': 'smtpmail pool of 4',
  'nm-connection': 'nodemailer SMTPConnection reused',
  'nm-pool-1': 'nodemailer pooled, 1 connection',
  'nm-pool-default': 'nodemailer default pool',
  'raw-seq': 'raw, one message at a time',
  raw: 'raw ceiling (64 in flight)',
};

export interface Driver {
  readonly concurrency: number;
  send(): Promise<void>;
  close(): Promise<void>;
}

export const IN_FLIGHT = 64;

interface Pool {
  send(message: unknown, options?: MessageOptions): Promise<SendResult>;
  close(): Promise<void> | void;
}
type CreatePool = (options: ClientOptions & { maxConnections: number }) => Pool;

interface NodemailerTransport {
  sendMail(message: object): Promise<unknown>;
  close(): void;
}
interface Nodemailer {
  createTransport(options: object): NodemailerTransport;
}

/** Default options but for the bench's server and envelope; `chunking: false` for the (DATA) cells. */
function clientOptions(port: number, chunking?: false): ClientOptions {
  return {
    server: '127.0.0.1',
    port,
    streamType: 'plain',
    clientName: 'bench.local',
    envelopeFrom: ENVELOPE_FROM,
    recipients: [RECIPIENT],
    authSources: [],
    addMissingHeaders: false,
    retries: 1,
    ...(chunking === undefined ? {} : { chunking }),
  };
}

/** createPool, when the library build exports it (it may not exist yet). */
export function findCreatePool(): CreatePool | undefined {
  const candidate = (smtpmail as Record<string, unknown>)['createPool'];
  return typeof candidate === 'function' ? (candidate as CreatePool) : undefined;
}

async function loadNodemailer(): Promise<Nodemailer> {
  const name = 'nodemailer'; // no @types/nodemailer: typed through this small interface
  const module = (await import(name)) as { default: unknown };
  return module.default as Nodemailer;
}

function nodemailerDriver(transport: NodemailerTransport, workload: Workload): Driver {
  const envelope = { from: ENVELOPE_FROM, to: [RECIPIENT] };
  return {
    concurrency: IN_FLIGHT,
    send: async () => {
      await transport.sendMail({ envelope, raw: workload.message() as Buffer | Readable });
    },
    close: async () => transport.close(),
  };
}

interface NodemailerConnection {
  connect(callback: (error?: Error) => void): void;
  send(envelope: object, message: Buffer | Readable, callback: (error: Error | null) => void): void;
  quit(): void;
  once(event: 'end', listener: () => void): void;
}

/** nodemailer's bare SMTPConnection, connected once and reused: the fastest way nodemailer sends, one at a time. */
async function nodemailerConnection(port: number, workload: Workload): Promise<Driver> {
  const name = 'nodemailer/lib/smtp-connection';
  const module = (await import(name)) as { default: new (options: object) => NodemailerConnection };
  const connection = new module.default({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  await new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
  const envelope = { from: ENVELOPE_FROM, to: [RECIPIENT] };
  return {
    concurrency: 1,
    send: () =>
      new Promise<void>((resolve, reject) =>
        connection.send(envelope, workload.message(), (error) => (error ? reject(error) : resolve())),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        connection.once('end', resolve);
        connection.quit();
      }),
  };
}

/** Opens the driver for one cell (not the raw ceiling). */
export async function openDriver(
  cell: Exclude<CellName, 'raw' | 'raw-seq'>,
  workload: Workload,
  port: number,
): Promise<Driver> {
  switch (cell) {
    case 'sendMail': {
      const options = clientOptions(port);
      return {
        concurrency: 1,
        send: async () => void (await smtpmail.sendMail(workload.message(), options)),
        close: async () => {},
      };
    }
    case 'client-seq':
    case 'client-seq-data':
    case 'client-64':
    case 'client-64-data': {
      const data = cell === 'client-seq-data' || cell === 'client-64-data';
      const client = new smtpmail.SmtpClient(clientOptions(port, data ? false : undefined));
      return {
        concurrency: cell.startsWith('client-seq') ? 1 : IN_FLIGHT,
        send: async () => void (await client.send(workload.message())),
        close: () => client.quit(),
      };
    }
    case 'pool-4': {
      const createPool = findCreatePool();
      if (createPool === undefined) throw new Error('n/a (no createPool)');
      const pool = createPool({ ...clientOptions(port), maxConnections: 4 });
      return {
        concurrency: IN_FLIGHT,
        send: async () => void (await pool.send(workload.message())),
        close: async () => void (await pool.close()),
      };
    }
    case 'nm-connection':
      return nodemailerConnection(port, workload);
    case 'nm-pool-1': {
      const nodemailer = await loadNodemailer();
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port,
        secure: false,
        ignoreTLS: true,
        pool: true,
        maxConnections: 1,
        maxMessages: Infinity,
      });
      return nodemailerDriver(transport, workload);
    }
    case 'nm-pool-default': {
      const nodemailer = await loadNodemailer();
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port,
        secure: false,
        ignoreTLS: true,
        pool: true,
      });
      return nodemailerDriver(transport, workload);
    }
  }
}

export function isCellName(name: string): name is CellName {
  return (CELL_NAMES as readonly string[]).includes(name);
}
