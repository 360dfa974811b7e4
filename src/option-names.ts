/**
 * How errors and hints name a setting: as the library's API spells it
 * (`streamType 'ssl'`), or, inside the `smtpmail` command, as its flags and
 * configuration keys do (`--stream-type ssl`, `"streamType"` in config.json).
 * A user of the command never wrote `streamType`, so a hint that names it
 * sends them looking for something they cannot find.
 *
 * The command switches once at start-up ({@link useCommandLineNames}); the
 * library never does, so library callers always see API names.
 */

type Vocabulary = 'api' | 'cli';

let vocabulary: Vocabulary = 'api';

/** Called by the `smtpmail` command before anything else: names from now on are its flags. */
export function useCommandLineNames(): void {
  vocabulary = 'cli';
}

/** Flags of the command for the API's option names (the configuration file uses the API names as keys). */
const FLAGS: Readonly<Record<string, string>> = {
  server: '--server HOST',
  port: '--port N',
  streamType: '--stream-type TYPE',
  user: '--user NAME',
  password: '--passwordeval CMD or SMTPMAIL_PASSWORD',
  authSources: '--authinfo FILE',
  authMechanisms: '--auth-mechanisms LIST',
  localDomain: '--local-domain D',
  sendtoDomain: '--sendto-domain D',
  envelopeFrom: '-f ADDRESS',
  userFullName: '-F NAME',
  queueDir: '--queue-dir DIR',
  'tls.ca': '--ca FILE',
  mailDomain: '--maildomain DOMAIN',
  queueOnTransientFailure: '--queue-on-failure',
  requireTls: '--require-tls',
};

/** Configuration keys whose name differs from the option's (`tls.ca` is `"ca"` in config.json). */
const CONFIG_KEYS: Readonly<Record<string, string>> = {
  'tls.ca': 'ca',
  mailDomain: 'maildomain',
  password: 'passwordeval',
  queueOnTransientFailure: 'queueOnTransientFailure',
};

/**
 * A setting as the caller knows it, as a noun phrase: "the `server` option",
 * or for the command "--server HOST ("server" in config.json)".
 */
export function optionRef(name: string): string {
  if (vocabulary === 'api') return `the \`${name}\` option`;
  const flag = FLAGS[name];
  const key = CONFIG_KEYS[name] ?? name;
  return flag === undefined ? `"${key}" in config.json` : `${flag} ("${key}" in config.json)`;
}

/**
 * A setting with a value, as the caller would write it: `streamType 'ssl'` or
 * `port 465`, or for the command `--stream-type ssl`, `--port 465`.
 */
export function setting(name: string, value: string | number): string {
  if (vocabulary === 'api') return typeof value === 'number' ? `${name} ${value}` : `${name} '${value}'`;
  const flag = FLAGS[name];
  if (flag === undefined) return `"${CONFIG_KEYS[name] ?? name}": ${JSON.stringify(value)} in config.json`;
  return `${flag.split(' ')[0] ?? flag} ${value}`;
}

/** True inside the command: a hint may leave out what only the API can set. */
export function forCommandLine(): boolean {
  return vocabulary === 'cli';
}

/** Longest piece of a value quoted back in a message. */
const SHOWN_LIMIT = 64;

/**
 * A value as it may appear in an error message: strings JSON-quoted (so control
 * characters are escaped), cut to a length; other values by their kind.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const cut = value.length > SHOWN_LIMIT ? `${value.slice(0, SHOWN_LIMIT)}...` : value;
    return JSON.stringify(cut).replace(
      /[\x7f-\x9f]/g,
      (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** An argument or option as typed when it is short, printable ASCII; else quoted as {@link describeValue} does. */
export function showArgument(text: string): string {
  return text.length <= SHOWN_LIMIT && /^[\x21-\x7e]+$/.test(text) ? text : describeValue(text);
}
