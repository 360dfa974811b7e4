/**
 * DKIM-Signature fields (RFC 6376 §3.5, §5; Ed25519: RFC 8463) for a header block as it is transmitted, given the
 * body hashes: pure, no I/O. Each signature covers the same header block (not the other new signatures), and its field
 * goes on top of it.
 *
 * What is signed: every field of the signer's list that the message has, each occurrence; and From, Reply-To, To, Cc
 * and Subject once more than they occur ("oversigned", as rspamd does by default), so that none of these can be added
 * on the way, present or not, without breaking the signature: a second From or Subject shown by a mail reader, or a
 * Reply-To sending answers elsewhere. Never the body length (`l=`, which lets anything be appended) nor an expiry.
 */
import { createHash, sign } from 'node:crypto';
import { SmtpProtocolError } from '../errors.js';
import { canonicalHeader, crlfLines, type CanonicalizationKind } from './dkim-canonical.js';
import type { DkimSigner } from './dkim-options.js';
import { findHeaderEnd } from './header-block.js';
import { parseHeaders } from './header-fields.js';

/** Listed once more than they occur (see the module comment). */
export const OVERSIGNED_FIELDS: readonly string[] = ['from', 'reply-to', 'to', 'cc', 'subject'];

/** Lines of a DKIM-Signature field are folded before this column where a tag allows. */
const FOLD_COLUMN = 76;
const FIELD_NAME = 'DKIM-Signature';

/** A header block read for signing: its field names in order, and each name's fields (CRLF line ends). */
export interface SignableHead {
  readonly names: readonly string[];
  readonly byName: ReadonlyMap<string, readonly Buffer[]>;
}

/**
 * `head`, the transmitted header block with its empty line, read for signing; EINPUT when it has no From field (RFC
 * 6376 §5.4), before anything else is done.
 */
export function signableHead(head: Buffer): SignableHead {
  const block = crlfLines(head);
  const end = findHeaderEnd(block, true);
  const fields = end === undefined ? [] : parseHeaders(block, end.headerEnd);
  const byName = new Map<string, Buffer[]>();
  for (const field of fields) {
    const list = byName.get(field.key);
    if (list === undefined) byName.set(field.key, [field.raw]);
    else list.push(field.raw);
  }
  if (!byName.has('from')) {
    throw new SmtpProtocolError(
      'EINPUT',
      'DKIM signing needs a From field (RFC 6376 §5.4) and the message has none (userMailAddress adds one)',
    );
  }
  return { names: fields.map((field) => field.key), byName };
}

/**
 * The DKIM-Signature fields (CRLF line ends) for a header block, one per signer in order. `bodyHashes` holds the
 * SHA-256 of the body under each canonicalization the signers use; `time` is the signatures' `t=` (seconds since the
 * epoch).
 */
export function signatureFields(
  head: SignableHead,
  signers: readonly DkimSigner[],
  bodyHashes: ReadonlyMap<CanonicalizationKind, Buffer>,
  time: number,
): Buffer {
  const out: Buffer[] = [];
  for (const signer of signers) {
    const bodyHash = bodyHashes.get(signer.body);
    if (bodyHash === undefined) throw new Error(`internal error: no ${signer.body} body hash`);
    const names = head.names.filter((name) => signer.fields.has(name));
    for (const name of OVERSIGNED_FIELDS) if (signer.fields.has(name)) names.push(name);
    out.push(signatureField(signer, names, head.byName, bodyHash, time));
  }
  return Buffer.concat(out);
}

function signatureField(
  signer: DkimSigner,
  names: readonly string[],
  byName: ReadonlyMap<string, readonly Buffer[]>,
  bodyHash: Buffer,
  time: number,
): Buffer {
  const folder = new Folder(`${FIELD_NAME}:`);
  for (const tag of [`v=1;`, `a=${signer.algorithm};`, `c=${signer.header}/${signer.body};`]) folder.add(` ${tag}`);
  folder.add(` d=${signer.domain};`);
  folder.add(` s=${signer.selector};`);
  folder.add(` t=${time};`);
  names.forEach((name, i) => folder.add(`${i === 0 ? ' h=' : ''}${name}${i === names.length - 1 ? ';' : ':'}`));
  folder.add(` bh=${bodyHash.toString('base64')};`);
  folder.newLine(' b=');
  const unsigned = folder.text();

  // RFC 6376 §3.7: the signed fields, each canonicalized, the last occurrence of a name first (§5.4.2); a name with
  // no occurrence left adds nothing. Then this field with an empty b= and no line end.
  const used = new Map<string, number>();
  const parts: Buffer[] = [];
  for (const name of names) {
    const all = byName.get(name) ?? [];
    const taken = used.get(name) ?? 0;
    used.set(name, taken + 1);
    const field = all[all.length - 1 - taken];
    if (field !== undefined) parts.push(canonicalHeader(field, signer.header));
  }
  const self = canonicalHeader(Buffer.from(`${unsigned}\r\n`, 'latin1'), signer.header);
  parts.push(self.subarray(0, self.length - 2));
  const data = Buffer.concat(parts);
  const signature =
    signer.algorithm === 'rsa-sha256'
      ? sign('sha256', data, signer.key)
      : sign(null, createHash('sha256').update(data).digest(), signer.key); // RFC 8463 §3: Ed25519 over the hash

  folder.addBase64(signature.toString('base64'));
  return Buffer.from(`${folder.text()}\r\n`, 'latin1');
}

/** A field's text, folded (CRLF and a space) before a piece that would pass FOLD_COLUMN. */
class Folder {
  readonly #lines: string[] = [];
  #line: string;

  constructor(start: string) {
    this.#line = start;
  }

  /** A piece that starts with its own space when it needs one (the fold supplies one otherwise). */
  add(piece: string): void {
    if (this.#line.length + piece.length > FOLD_COLUMN) this.newLine(` ${piece.trimStart()}`);
    else this.#line += piece;
  }

  newLine(start: string): void {
    this.#lines.push(this.#line);
    this.#line = start;
  }

  /** Base64 text, cut where lines end (RFC 6376 §3.5: FWS may go anywhere in a base64 value). */
  addBase64(text: string): void {
    let rest = text;
    for (;;) {
      const room = Math.max(FOLD_COLUMN - this.#line.length, 1);
      this.#line += rest.slice(0, room);
      rest = rest.slice(room);
      if (rest === '') return;
      this.newLine(' ');
    }
  }

  text(): string {
    return [...this.#lines, this.#line].join('\r\n');
  }
}
