/**
 * The `dkim` option (RFC 6376, RFC 8463), checked and resolved: a domain and a selector in DNS syntax, a private key
 * that is RSA (PKCS#8 or PKCS#1 PEM, or a KeyObject; 1024 bits at least, RFC 8301) or Ed25519 (PKCS#8 PEM or a
 * KeyObject), the algorithm (default: the key's), the fields to sign and the canonicalization. A problem is told as
 * what the option must be, naming the entry (`dkim[1].privateKey`) and never showing the key.
 */
import { createPrivateKey, KeyObject } from 'node:crypto';
import { describeValue } from '../option-names.js';
import type { CanonicalizationKind } from './dkim-canonical.js';

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';
export type DkimCanonicalization = 'relaxed/relaxed' | 'simple/simple' | 'relaxed/simple' | 'simple/relaxed';

/** One DKIM signature to add to each message. */
export interface DkimOptions {
  /** The signing domain (`d=`), in ASCII (A-labels for an internationalized name). */
  readonly domainName: string;
  /** The selector (`s=`): the public key is published at `<keySelector>._domainkey.<domainName>`. */
  readonly keySelector: string;
  /** A PEM string (PKCS#8; for RSA, PKCS#1 too) or a private KeyObject, RSA or Ed25519. */
  readonly privateKey: string | KeyObject;
  /** Default: `rsa-sha256` for an RSA key, `ed25519-sha256` (RFC 8463) for an Ed25519 key. */
  readonly algorithm?: DkimAlgorithm | undefined;
  /** The fields to sign, instead of the default list (From must be one). */
  readonly headerFieldNames?: readonly string[] | undefined;
  /** Fields not to sign, taken out of the list (never From). */
  readonly skipFields?: readonly string[] | undefined;
  /** Header/body canonicalization (RFC 6376 §3.4); default `relaxed/relaxed`. */
  readonly canonicalization?: DkimCanonicalization | undefined;
}

/** One signature's settings, resolved: what the signer uses. */
export interface DkimSigner {
  readonly domain: string;
  readonly selector: string;
  readonly key: KeyObject;
  readonly algorithm: DkimAlgorithm;
  readonly header: CanonicalizationKind;
  readonly body: CanonicalizationKind;
  /** Lower-cased names of the fields to sign. */
  readonly fields: ReadonlySet<string>;
}

/**
 * Signed by default, when present: the fields RFC 6376 §5.4.1 lists that a sender writes (not Received or
 * Return-Path, which servers add on the way), and the List- fields of RFC 2369, RFC 2919 and RFC 8058.
 */
export const DEFAULT_SIGNED_FIELDS: readonly string[] = [
  'from',
  'sender',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'to',
  'cc',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-id',
  'content-description',
  'resent-date',
  'resent-from',
  'resent-sender',
  'resent-to',
  'resent-cc',
  'resent-message-id',
  'in-reply-to',
  'references',
  'list-id',
  'list-help',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'list-subscribe',
  'list-post',
  'list-owner',
  'list-archive',
];

const KEYS = [
  'domainName',
  'keySelector',
  'privateKey',
  'algorithm',
  'headerFieldNames',
  'skipFields',
  'canonicalization',
];
const ALGORITHMS: readonly DkimAlgorithm[] = ['rsa-sha256', 'ed25519-sha256'];
const CANONICALIZATIONS: readonly DkimCanonicalization[] = [
  'relaxed/relaxed',
  'simple/simple',
  'relaxed/simple',
  'simple/relaxed',
];
/** RFC 5321 §4.1.2 sub-domain, dot-separated (RFC 6376 §3.1 selector, §3.5 d=): labels of at most 63 octets. */
const DNS_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** RFC 5322 §2.2 field name. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
const KEY_NAMES: Readonly<Record<DkimAlgorithm, string>> = {
  'rsa-sha256': 'an RSA key',
  'ed25519-sha256': 'an Ed25519 key',
};
const choices = (values: readonly string[]): string => values.map((value) => `'${value}'`).join(', ');
/** RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits. */
const MIN_RSA_BITS = 1024;
/** RFC 1035 §2.3.4: a name of at most 255 octets (253 characters written). */
const MAX_DNS_NAME = 253;

/** The shape the option takes, opening every problem. */
export const DKIM_SHAPE =
  'an object with domainName, keySelector and privateKey (and optionally algorithm, headerFieldNames, skipFields, ' +
  'canonicalization), or a non-empty array of them';

/** The signers the option asks for, or what is wrong with it (without the key). */
export function resolveDkim(value: unknown): { signers: readonly DkimSigner[] } | { problem: string } {
  const entries = Array.isArray(value) ? (value as unknown[]) : [value];
  if (entries.length === 0) return { problem: DKIM_SHAPE };
  const signers: DkimSigner[] = [];
  for (const [index, entry] of entries.entries()) {
    const where = Array.isArray(value) ? `dkim[${index}]` : 'dkim';
    const resolved = resolveOne(entry, where);
    if (typeof resolved === 'string') return { problem: `${DKIM_SHAPE}; ${resolved}` };
    signers.push(resolved);
  }
  return { signers };
}

function resolveOne(entry: unknown, where: string): DkimSigner | string {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry) || entry instanceof KeyObject)
    return `${where} is ${describeValue(entry)}`;
  const unknown = Object.keys(entry).find((key) => !KEYS.includes(key));
  if (unknown !== undefined) return `${where} has ${describeValue(unknown)}, which is none of these`;
  const options = entry as Partial<Record<keyof DkimOptions, unknown>>;
  const domain = dnsName(options.domainName, `${where}.domainName`);
  if (domain !== undefined) return domain;
  const selector = dnsName(options.keySelector, `${where}.keySelector`);
  if (selector !== undefined) return selector;
  const record = `${String(options.keySelector)}._domainkey.${String(options.domainName)}`;
  if (record.length > MAX_DNS_NAME) return `${where}: the key's DNS name ${record} is longer than ${MAX_DNS_NAME}`;
  const algorithm = options.algorithm;
  if (algorithm !== undefined && !ALGORITHMS.includes(algorithm as DkimAlgorithm))
    return `${where}.algorithm must be one of ${choices(ALGORITHMS)}, not ${describeValue(algorithm)}`;
  const canonicalization = options.canonicalization ?? 'relaxed/relaxed';
  if (!CANONICALIZATIONS.includes(canonicalization as DkimCanonicalization))
    return `${where}.canonicalization must be one of ${choices(CANONICALIZATIONS)}, not ${describeValue(
      canonicalization,
    )}`;
  const fields = fieldNames(options.headerFieldNames, options.skipFields, where);
  if (typeof fields === 'string') return fields;
  const key = privateKey(options.privateKey, `${where}.privateKey`);
  if (typeof key === 'string') return key;
  const keyAlgorithm: DkimAlgorithm = key.asymmetricKeyType === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256';
  if (algorithm !== undefined && algorithm !== keyAlgorithm) {
    const fits = `${KEY_NAMES[keyAlgorithm]} ('${keyAlgorithm}')`;
    return `${where}.algorithm '${String(algorithm)}' does not fit the key: ${fits}`;
  }
  const [header, body] = (canonicalization as DkimCanonicalization).split('/') as [
    CanonicalizationKind,
    CanonicalizationKind,
  ];
  return {
    domain: options.domainName as string,
    selector: options.keySelector as string,
    key,
    algorithm: keyAlgorithm,
    header,
    body,
    fields,
  };
}

function dnsName(value: unknown, name: string): string | undefined {
  if (typeof value !== 'string') return `${name} must be a string, not ${describeValue(value)}`;
  if (/[^\x00-\x7f]/.test(value))
    return `${name} must be ASCII (A-labels for an internationalized name: url.domainToASCII), not ${describeValue(
      value,
    )}`;
  if (value.length > MAX_DNS_NAME || !DNS_NAME.test(value))
    return `${name} must be a DNS name (letters, digits and hyphens, dots between labels), not ${describeValue(value)}`;
  return undefined;
}

function fieldNames(given: unknown, skipped: unknown, where: string): ReadonlySet<string> | string {
  const list = (value: unknown, name: string): string[] | string =>
    Array.isArray(value) && value.every((item) => typeof item === 'string' && FIELD_NAME.test(item))
      ? value.map((item: string) => item.toLowerCase())
      : `${name} must be an array of header field names (printable ASCII, no colon)`;
  const names = given === undefined ? DEFAULT_SIGNED_FIELDS : list(given, `${where}.headerFieldNames`);
  if (typeof names === 'string') return names;
  const skip = skipped === undefined ? [] : list(skipped, `${where}.skipFields`);
  if (typeof skip === 'string') return skip;
  if (skip.includes('from')) return `${where}.skipFields cannot hold From: RFC 6376 §5.4 requires it signed`;
  if (!names.includes('from')) return `${where}.headerFieldNames must include From: RFC 6376 §5.4 requires it signed`;
  return new Set(names.filter((name) => !skip.includes(name)));
}

function privateKey(value: unknown, name: string): KeyObject | string {
  let key: KeyObject;
  if (value instanceof KeyObject) {
    key = value;
  } else if (typeof value !== 'string') {
    return `${name} must be a PEM string or a KeyObject, not ${describeValue(value)}`;
  } else if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(value)) {
    return `${name} is an encrypted key: give crypto.createPrivateKey({ key, passphrase }) instead`;
  } else {
    try {
      key = createPrivateKey({ key: value, format: 'pem' });
    } catch {
      // Node's message says nothing useful here, and the key itself must never be shown.
      const escaped = !value.includes('\n') && value.includes('\\n');
      return (
        `${name} could not be read as a PEM private key (PKCS#8, or PKCS#1 for RSA)` +
        (escaped ? ': its line breaks are the two characters \\n (as an environment variable may hold them)' : '')
      );
    }
  }
  if (key.type !== 'private') return `${name} must be a private key, not a ${key.type} key`;
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS)
      return `${name} is an RSA key of ${bits} bits: DKIM needs ${MIN_RSA_BITS} at least (RFC 8301)`;
    return key;
  }
  if (type === 'ed25519') return key;
  return `${name} must be an RSA or Ed25519 key, not ${type === undefined ? 'this kind of key' : `an ${type} key`}`;
}
