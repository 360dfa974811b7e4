/** `smtpmail --check` output for people: one block per attempt, then the verdict. Pure. */
import type { CapabilitySummary, CheckAttempt, CheckReport } from '../client/check.js';
import type { TlsInfo } from '../net/transport.js';

export function formatCheckReport(report: CheckReport): string {
  const blocks = report.attempts.map(formatAttempt);
  return `${blocks.join('\n')}\nVerdict: ${report.verdict}\n`;
}

function formatAttempt(attempt: CheckAttempt): string {
  const mode =
    attempt.streamType === null
      ? 'STARTTLS when offered'
      : attempt.streamType === 'starttls'
        ? 'STARTTLS required'
        : attempt.streamType === 'plain'
          ? 'plain (no TLS)'
          : 'implicit TLS';
  const lines = [`${attempt.server} port ${attempt.port}, ${mode}: ${attempt.ok ? 'works' : 'FAILS'}`];
  if (attempt.connectMs !== undefined)
    lines.push(`  connected in ${attempt.connectMs} ms to ${attempt.remoteAddress ?? '?'}`);
  const implicit = attempt.streamType === 'ssl' || attempt.streamType === 'tls';
  if (implicit && attempt.tls !== undefined) lines.push(`  TLS: ${formatTls(attempt.tls)}`);
  if (attempt.greeting !== undefined) lines.push(`  greeting: ${attempt.greeting}`);
  if (attempt.capabilities !== undefined) lines.push(`  EHLO: ${formatCaps(attempt.capabilities)}`);
  if (!implicit && attempt.tls !== undefined) lines.push(`  STARTTLS: ${formatTls(attempt.tls)}`);
  if (attempt.capabilitiesAfterTls !== undefined)
    lines.push(`  EHLO after STARTTLS: ${formatCaps(attempt.capabilitiesAfterTls)}`);
  if (attempt.auth === undefined && attempt.error === undefined)
    lines.push('  AUTH: not tried (no credentials found for this server and port)');
  if (attempt.auth?.ok === true)
    lines.push(
      `  AUTH: ${attempt.auth.mechanism ?? '?'} succeeded as ${attempt.auth.user ?? '?'} (credentials from ` +
        `${attempt.auth.source ?? '?'})`,
    );
  if (attempt.auth?.ok === false) lines.push(`  AUTH: failed: ${attempt.auth.error ?? ''}`);
  if (attempt.recipient !== undefined)
    lines.push(`  RCPT TO:<${attempt.recipient.address}>: ${attempt.recipient.reply} (then RSET; nothing sent)`);
  if (attempt.error !== undefined) {
    lines.push(`  error (${attempt.error.code}): ${attempt.error.message}`);
    if (attempt.error.hint !== undefined) lines.push(`  hint: ${attempt.error.hint}`);
  }
  return lines.join('\n');
}

function formatTls(tls: TlsInfo): string {
  const cert = tls.certificate;
  const names =
    cert === undefined
      ? ''
      : `, certificate ${cert.subject ?? '?'} (${cert.altNames.join(', ')}) issued by ${cert.issuer ?? '?'}, valid ` +
        `until ${cert.validTo ?? '?'}`;
  return `${tls.protocol ?? '?'} ${tls.cipher}${names}, ${tls.authorized ? 'verified' : 'NOT verified'}`;
}

function formatCaps(caps: CapabilitySummary): string {
  const facts = [
    caps.size === undefined ? undefined : `SIZE ${caps.size}`,
    caps.eightBitMime ? '8BITMIME' : undefined,
    caps.pipelining ? 'PIPELINING' : undefined,
    caps.smtputf8 ? 'SMTPUTF8' : undefined,
    caps.chunking ? 'CHUNKING' : undefined,
    caps.dsn ? 'DSN' : undefined,
    caps.requireTls ? 'REQUIRETLS' : undefined,
    caps.starttls ? 'STARTTLS' : undefined,
    caps.auth.length > 0 ? `AUTH ${caps.auth.join(' ')}` : 'no AUTH',
  ];
  return facts.filter((fact) => fact !== undefined).join(', ');
}
