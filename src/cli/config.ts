/**
 * The `smtpmail` command's JSON configuration: `defaults` and named
 * `accounts`, each holding options of sendMail (file paths for `ca` and
 * `authSources`). An account is chosen with `--account NAME`, or by its `from`
 * address matching the message's From: (the Emacs wiki's "Managing Multiple
 * SMTP Accounts", done by the program). Validation is strict: a typo in a key
 * is a configuration error (exit 78), not a silently ignored setting.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SmtpProtocolError } from '../errors.js';
import { portNumber, SERVICES, STREAM_TYPES, type StreamType } from '../options.js';

export interface AccountSettings {
  readonly server?: string;
  readonly port?: number | string;
  readonly streamType?: StreamType;
  readonly user?: string;
  readonly authSources?: readonly string[];
  readonly authMechanisms?: readonly string[];
  readonly localDomain?: string;
  readonly sendtoDomain?: string;
  readonly clientName?: string;
  readonly envelopeFrom?: string;
  readonly userMailAddress?: string;
  readonly userFullName?: string;
  /** A CA certificate file for servers with a private CA. */
  readonly ca?: string;
  readonly queueDir?: string;
  readonly storeQueueVariables?: boolean;
  readonly portableNames?: boolean;
  readonly retries?: number;
  /** Completes an envelope sender without a domain (`-f root`): `root@maildomain` (msmtp's maildomain). */
  readonly maildomain?: string;
  /** A command (a string split into words, or an argv array) whose output is the password; run without a shell. */
  readonly passwordeval?: string | readonly string[];
  /** A message that fails for now (greylisting, server down) is queued instead. */
  readonly queueOnTransientFailure?: boolean;
  /** false: DATA even when the server offers CHUNKING. */
  readonly chunking?: boolean;
  /** Every message with REQUIRETLS (RFC 8689), or not sent. */
  readonly requireTls?: boolean;
  /** Accounts only: the From: address (or addresses) that select this account. */
  readonly from?: string | readonly string[];
}

export interface CliConfig {
  readonly defaults: AccountSettings;
  readonly accounts: ReadonlyMap<string, AccountSettings>;
}

type Kind = 'string' | 'port' | 'streamType' | 'strings' | 'boolean' | 'count' | 'from' | 'command';

const KEYS: Readonly<Record<keyof AccountSettings, Kind>> = {
  server: 'string',
  port: 'port',
  streamType: 'streamType',
  user: 'string',
  authSources: 'strings',
  authMechanisms: 'strings',
  localDomain: 'string',
  sendtoDomain: 'string',
  clientName: 'string',
  envelopeFrom: 'string',
  userMailAddress: 'string',
  userFullName: 'string',
  ca: 'string',
  queueDir: 'string',
  storeQueueVariables: 'boolean',
  portableNames: 'boolean',
  retries: 'count',
  from: 'from',
  maildomain: 'string',
  passwordeval: 'command',
  queueOnTransientFailure: 'boolean',
  chunking: 'boolean',
  requireTls: 'boolean',
};

const EMPTY: CliConfig = { defaults: {}, accounts: new Map() };

/** `$XDG_CONFIG_HOME/smtpmail/config.json`, else `~/.config/smtpmail/config.json`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  const base =
    env['XDG_CONFIG_HOME'] !== undefined && env['XDG_CONFIG_HOME'] !== ''
      ? env['XDG_CONFIG_HOME']
      : path.join(os.homedir(), '.config');
  return path.join(base, 'smtpmail', 'config.json');
}

/** Largest configuration file read: a configuration is small, and /dev/urandom never ends. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Reads the configuration; a missing default file is an empty configuration,
 * a missing named one an error. It must be a regular file of at most
 * MAX_CONFIG_BYTES (a device or a FIFO could be read forever).
 */
export function loadConfig(file: string, explicit: boolean): CliConfig {
  let text;
  try {
    text = readBounded(file);
  } catch (error) {
    if (!explicit && (error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY;
    throw configError(file, `cannot read it: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw configError(file, `not valid JSON: ${(error as Error).message}`);
  }
  return parseConfig(value, file);
}

function readBounded(file: string): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`);
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (let read = 1; read > 0 && length < buffer.length; length += read)
      read = fs.readSync(fd, buffer, length, buffer.length - length, length);
    if (length > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`);
    return buffer.toString('utf8', 0, length);
  } finally {
    fs.closeSync(fd);
  }
}

export function parseConfig(value: unknown, file: string): CliConfig {
  if (!isObject(value)) throw configError(file, 'the top level must be an object with "defaults" and "accounts"');
  for (const key of Object.keys(value)) {
    if (key !== 'defaults' && key !== 'accounts')
      throw configError(file, `unknown key "${key}" (expected "defaults" and "accounts")`);
  }
  const defaults = value['defaults'] === undefined ? {} : settings(value['defaults'], 'defaults', file);
  if ('from' in defaults) throw configError(file, '"from" belongs in an account, not in "defaults"');
  const accounts = new Map<string, AccountSettings>();
  const rawAccounts = value['accounts'] ?? {};
  if (!isObject(rawAccounts)) throw configError(file, '"accounts" must be an object of named accounts');
  for (const [name, raw] of Object.entries(rawAccounts)) accounts.set(name, settings(raw, `accounts.${name}`, file));
  return { defaults, accounts };
}

function settings(raw: unknown, where: string, file: string): AccountSettings {
  if (!isObject(raw)) throw configError(file, `${where} must be an object`);
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(raw)) {
    const kind = (KEYS as Record<string, Kind | undefined>)[key];
    if (kind === undefined) {
      const hint =
        key === 'password'
          ? ' (keep passwords out of the configuration: an authinfo file, or "passwordeval" with a password manager)'
          : '';
      throw configError(file, `unknown option "${key}" in ${where}${hint}`);
    }
    if (!fits(kind, item)) throw configError(file, `${where}.${key} must be ${KIND_TEXT[kind]}`);
    result[key] = item;
  }
  return result as AccountSettings;
}

const KIND_TEXT: Readonly<Record<Kind, string>> = {
  string: 'a string',
  port: `a port number (1-65535) or one of ${Object.keys(SERVICES)
    .map((name) => `"${name}"`)
    .join(', ')}`,
  streamType: `one of ${STREAM_TYPES.map((type) => `"${type}"`).join(', ')}`,
  strings: 'an array of strings',
  boolean: 'true or false',
  count: 'a whole number of at least 1',
  from: 'an address or an array of addresses',
  command: 'a command line (a string) or an argv array of strings',
};

function fits(kind: Kind, item: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof item === 'string';
    case 'port':
      return portNumber(item) !== undefined;
    case 'streamType':
      return (STREAM_TYPES as readonly unknown[]).includes(item);
    case 'strings':
      return Array.isArray(item) && item.every((s) => typeof s === 'string');
    case 'boolean':
      return typeof item === 'boolean';
    case 'count':
      return Number.isInteger(item) && (item as number) >= 1;
    case 'from':
      return typeof item === 'string' || (Array.isArray(item) && item.every((s) => typeof s === 'string'));
    case 'command':
      return (
        (typeof item === 'string' && item.trim() !== '') ||
        (Array.isArray(item) && item.length > 0 && item.every((s) => typeof s === 'string'))
      );
  }
}

/**
 * The account to use: the named one (unknown → ECONFIG), else the one whose
 * `from` matches the From: address (case-insensitive), else none.
 */
export function selectAccount(
  config: CliConfig,
  name: string | undefined,
  fromAddress: string | undefined,
): { name: string; settings: AccountSettings } | undefined {
  if (name !== undefined) {
    const found = config.accounts.get(name);
    if (found === undefined) {
      const known = [...config.accounts.keys()].join(', ') || 'none';
      throw new SmtpProtocolError('ECONFIG', `no account "${name}" in the configuration (accounts: ${known})`);
    }
    return { name, settings: found };
  }
  if (fromAddress === undefined) return undefined;
  const wanted = fromAddress.toLowerCase();
  for (const [accountName, account] of config.accounts) {
    const addresses =
      account.from === undefined ? [] : typeof account.from === 'string' ? [account.from] : account.from;
    if (addresses.some((address) => address.toLowerCase() === wanted)) return { name: accountName, settings: account };
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function configError(file: string, problem: string): SmtpProtocolError {
  return new SmtpProtocolError('ECONFIG', `configuration ${file}: ${problem}`);
}
