/**
 * What to change when sending fails in one of the common ways (SPEC §10):
 * the texts of SmtpProtocolError's `hint`. Each builder takes what actually
 * happened (the port, the certificate seen, the authinfo files searched)
 * and names the option, port or file to change. Pure: the callers decide
 * when a hint applies.
 */
import { forCommandLine, optionRef, setting } from './option-names.js';
import type { RefusedRecipient } from './errors.js';
import type { Reply } from './wire/reply.js';

/** An authinfo file looked at for credentials, and why nothing in it matched (auth/credentials.ts fills it). */
export interface SearchedFile {
  readonly file: string;
  readonly status: 'missing' | 'matched' | 'no-match';
  /** For 'no-match': per entry, why it did not match, e.g. `['line 3: host']`; never values. */
  readonly reasons: readonly string[];
}

/** Why a message that requires TLS (RFC 8689 REQUIRETLS) was not sent on this session. */
export type RequireTlsGap = 'clear text' | 'unverified' | 'not offered';

/** requireTls, and the session cannot carry REQUIRETLS: what would let the message go. */
export function requireTlsUnmet(gap: RequireTlsGap): string {
  switch (gap) {
    case 'clear text':
      return (
        `REQUIRETLS is only sent over TLS: use ${setting('streamType', 'starttls')} ` +
        `(usually ${setting('port', 587)}) or ${setting('streamType', 'ssl')} (usually ${setting('port', 465)})`
      );
    case 'unverified':
      return (
        'REQUIRETLS needs a verified server certificate: drop rejectUnauthorized: false, and give the CA with ' +
        `${optionRef('tls.ca')} if the server's certificate comes from a private one`
      );
    default:
      return (
        'the server does not list REQUIRETLS in its EHLO reply after TLS (not every server has it; a check shows ' +
        `what a server offers): send through a server that offers it, or leave out ${optionRef('requireTls')} if ` +
        'the message may be relayed without that guarantee'
      );
  }
}

/** Implicit TLS, and the handshake read plain text (a `220 ...` greeting). */
export function plainTextOnTlsPort(port: number): string {
  return (
    `the server on port ${port} answered in plain text, so this port speaks plain SMTP, not TLS from the first byte: ` +
    `use ${setting('streamType', 'starttls')} (or plain) with this port, or ${setting('port', 465)} with ` +
    `${setting('streamType', 'ssl')}`
  );
}

/** Plain or STARTTLS, and no greeting came (or binary bytes did): the port waits for a TLS handshake. */
export function tlsExpected(port: number, what: 'silence' | 'binary'): string {
  const seen = what === 'silence' ? 'the server sent no greeting' : 'the server sent binary data instead of a greeting';
  return (
    `${seen}: port ${port} probably expects TLS from the first byte (implicit TLS, usually port 465): use ` +
    `${setting('streamType', 'ssl')}`
  );
}

export function connectFailed(host: string, port: number, timedOut: boolean): string {
  const what = timedOut ? 'did not answer' : 'refused the connection';
  if (port === 25) {
    return (
      `${host} ${what} on port 25, which many providers and networks block: use a submission port, ${submission()}; ` +
      'otherwise check the server name'
    );
  }
  return (
    `${host} ${what} on port ${port}: check the server name and the port (${submission()} are the usual ` +
    `submission settings)`
  );
}

/** A unix socket path that does not exist (or is no socket): where LMTP servers usually listen. */
export function unixSocketMissing(path: string): string {
  return (
    `no socket at ${path}: check ${optionRef('path')} (Dovecot's LMTP socket is usually /run/dovecot/lmtp, or ` +
    `/var/spool/postfix/private/dovecot-lmtp when Postfix delivers through it) and that the server runs`
  );
}

/** LHLO refused: the server speaks SMTP, not LMTP. */
export function lmtpRefused(): string {
  return (
    `the server refused LHLO, so it probably speaks SMTP rather than LMTP: check the port or path (Dovecot's LMTP ` +
    `listens where its service lmtp says), or leave out ${optionRef('lmtp')} to send by SMTP`
  );
}

/**
 * LMTP: the message reached some recipients and was refused for others. Sending it again whole would deliver it twice
 * to the first; only the others may be tried again, and only those refused for now.
 */
export function lmtpPartlyDelivered(delivered: readonly string[], refused: readonly RefusedRecipient[]): string {
  const later = refused.filter((r) => r.reply.code < 500).map((r) => `<${r.recipient}>`);
  const again =
    later.length === 0
      ? 'every refusal is permanent (5xx): sending again will not help'
      : `to try again those refused for now (4xx: ${later.join(', ')}), send the message with ` +
        `${optionRef('recipients')} set to them alone`;
  return (
    `the message was delivered to ${delivered.map((r) => `<${r}>`).join(', ')}: do not send it again as it is ` +
    `(they would get it twice); ${again}`
  );
}

/** The two submission settings: 587 with STARTTLS, 465 with implicit TLS. */
function submission(): string {
  return (
    `${setting('port', 587)} with ${setting('streamType', 'starttls')}, or ${setting('port', 465)} with ` +
    `${setting('streamType', 'ssl')}`
  );
}

export interface CertificateSummary {
  readonly subject: string | undefined;
  readonly altNames: readonly string[];
  readonly issuer: string | undefined;
  readonly validTo: string | undefined;
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** A certificate the client refused, by Node's error code; undefined for other TLS failures. */
export function certificateProblem(
  code: string,
  host: string,
  cert: CertificateSummary | undefined,
): string | undefined {
  const names =
    cert === undefined
      ? 'unknown names'
      : [cert.subject, ...cert.altNames].filter((n) => n !== undefined).join(', ') || 'no names';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    const servername = forCommandLine() ? '' : ', or set tls.servername to the name the certificate carries';
    return (
      `the server's certificate is for ${names}, not ${host}: use one of those names as ` +
      `${optionRef('server')}${servername}`
    );
  }
  if (code === 'CERT_HAS_EXPIRED')
    return (
      `the server's certificate (${names}) expired on ${cert?.validTo ?? 'an earlier date'}: its administrator ` +
      `must renew it`
    );
  if (code === 'CERT_NOT_YET_VALID')
    return `the server's certificate (${names}) is not valid yet: check this computer's clock`;
  if (UNTRUSTED.has(code)) {
    return (
      `the server's certificate (${names}, issued by ${cert?.issuer ?? 'an unknown issuer'}) is not signed by a CA ` +
      `this client trusts: ` +
      `if the server uses a private or self-signed CA, give that CA's certificate (PEM) as ${optionRef('tls.ca')}`
    );
  }
  return undefined;
}

export function starttlsUnavailable(port: number, refused: boolean): string {
  return (
    `the server ${refused ? 'refused STARTTLS' : 'does not offer STARTTLS'} on port ${port}: use ` +
    `${setting('port', 465)} with ${setting('streamType', 'ssl')}, ` +
    `or (knowing that everything, the password included, then travels unencrypted) ${setting('streamType', 'plain')}`
  );
}

export function cleartextAuth(): string {
  const tls = `enable TLS: ${submission()}`;
  if (forCommandLine()) return tls;
  return `${tls}; allowInsecureAuth: true would send the password readable by anyone on the network path`;
}

/**
 * The server wants authentication (530, or a relay refusal on an
 * unauthenticated session): how to give credentials, and why none were found.
 */
export function needsAuthentication(
  host: string,
  port: string,
  user: string | undefined,
  searched: readonly SearchedFile[],
): string {
  const login = user ?? 'USER';
  const advice =
    `the server wants you to authenticate before it relays: give ${optionRef('user')} and ${optionRef('password')}, ` +
    `or add the line ` +
    `"machine ${host} port ${port} login ${login} password PASS" to ~/.authinfo`;
  if (searched.length === 0) return `${advice}.`;
  const files = searched.map((file) => {
    if (file.status === 'missing') return `${file.file} does not exist`;
    if (file.reasons.length === 0) return `${file.file} has no entries`;
    return `${file.file} has no matching entry (${file.reasons.map((reason) => `${reason} mismatch`).join(', ')})`;
  });
  const portNote = searched.some((file) => file.reasons.some((reason) => reason.endsWith('port')))
    ? ` An entry's port must name this port: "port smtp" is 25, not ${port}.`
    : '';
  return `${advice}. Searched: ${files.join('; ')}.${portNote}`;
}

/** 535: which credentials the server refused, and where they came from. */
export function credentialsRefused(user: string, source: string): string {
  const where = source === 'options' ? `${optionRef('user')} and ${optionRef('password')}` : source;
  return (
    `the server refused the login "${user}" with the password from ${where}: correct them there ` +
    '(some providers want an app password or OAuth2 instead of the account password)'
  );
}

export function sizeExceeded(limit: number | undefined): string {
  return (
    `the server accepts messages up to ${limit === undefined ? 'a size it chose' : `${limit} octets`}: send large ` +
    `files another way ` +
    '(a link), or ask the administrator for a larger limit'
  );
}

export function smtputf8Missing(): string {
  return (
    'the server cannot take non-ASCII addresses (no SMTPUTF8): use an ASCII form of the address (punycode for ' +
    'the domain) or another server'
  );
}

/**
 * A temporary refusal that trying again within seconds cannot clear
 * (greylisting, a 4.7.x policy refusal, 452): what to do instead.
 */
export function comeBackLater(reply: Reply): string {
  const queue =
    `queue the message and send it later (${optionRef('queueOnTransientFailure')} does that when this ` +
    `happens; flush the queue from cron or a timer)`;
  if (/gr[ae]ylist/i.test(reply.lines.join(' ')) || (reply.code !== 452 && reply.enhancedCode === '4.7.1')) {
    return (
      `the server is greylisting: it refuses a first attempt on purpose and accepts the same message when it ` +
      `comes back minutes later: ${queue}`
    );
  }
  if (reply.code === 452) return `the server is short of storage or takes no more recipients for now: ${queue}`;
  return (
    `the server refuses for now for a policy reason (${reply.enhancedCode ?? reply.code}), which seconds will ` +
    `not change: ${queue}`
  );
}

/** The server offered CHUNKING, then refused BDAT as a command it does not know or implement (500-504). */
export function bdatNotWorking(): string {
  return (
    `the server offers CHUNKING but refused BDAT as a command: send with DATA instead (` +
    (forCommandLine() ? `--no-chunking, or "chunking": false in config.json` : `chunking: false`) +
    `); this client uses DATA for its later messages`
  );
}
