/**
 * Channel binding (RFC 5056) for SCRAM's -PLUS mechanisms: proof, inside the SASL exchange, that client and server
 * see the same TLS session, so that a man in the middle holding a certificate the client trusts still cannot relay
 * the login. `tls-exporter` (RFC 9266) on TLS 1.3; `tls-server-end-point` (RFC 5929 §4) before it (tls-exporter on
 * TLS 1.2 is safe only with the extended master secret, which Node does not report), never `tls-unique`.
 *
 * `tls-server-end-point` is the hash of the server's certificate (DER) with the hash of the certificate's signature
 * algorithm, SHA-256 when that is MD5 or SHA-1 (RFC 5929 §4.1). A certificate signed without a separate hash
 * (Ed25519, Ed448) or with an algorithm not listed here has no defined binding: -PLUS is then not used.
 */
import { createHash } from 'node:crypto';

export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point';

export interface ChannelBinding {
  readonly type: ChannelBindingType;
  readonly data: Buffer;
}

/** What the TLS layer offers (net/transport.ts): the protocol, the keying material exporter, the server's DER. */
export interface TlsBindingSource {
  readonly protocol: string | null;
  exportKeyingMaterial(length: number, label: string): Buffer;
  certificate(): Buffer | undefined;
}

/** RFC 9266 §2: 32 bytes of the exporter with this label and an empty context. */
export const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
export const EXPORTER_LENGTH = 32;

/** The binding of a TLS session, or undefined when there is none (clear text) or it cannot be computed. */
export function channelBinding(source: TlsBindingSource | undefined): ChannelBinding | undefined {
  if (source === undefined) return undefined;
  try {
    if (source.protocol === 'TLSv1.3') {
      return { type: 'tls-exporter', data: source.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL) };
    }
    const der = source.certificate();
    const hash = der === undefined ? undefined : endPointHash(der);
    if (der === undefined || hash === undefined) return undefined;
    return { type: 'tls-server-end-point', data: createHash(hash).update(der).digest() };
  } catch {
    return undefined; // a socket already gone: no binding, so no -PLUS
  }
}

/** Signature algorithms (OID) and the hash tls-server-end-point uses for them: MD5 and SHA-1 become SHA-256. */
const SIGNATURE_HASHES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha256', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.1': 'sha224',
  '2.16.840.1.101.3.4.3.2': 'sha256',
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';

/** Hash algorithms (OID) named inside RSASSA-PSS parameters (RFC 4055 §3.1; SHA-1 when absent). */
const PSS_HASHES: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha256', // SHA-1
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/**
 * The hash tls-server-end-point uses for a certificate (DER), from its signatureAlgorithm (RFC 5280 §4.1.1.2), or
 * undefined when the certificate cannot be read or has no defined binding.
 */
export function endPointHash(der: Buffer): string | undefined {
  const certificate = readTlv(der, 0, SEQUENCE);
  const tbs = certificate && readTlv(der, certificate.start, SEQUENCE);
  const algorithm = tbs && readTlv(der, tbs.end, SEQUENCE);
  const oid = algorithm && readTlv(der, algorithm.start, OID);
  if (algorithm === undefined || oid === undefined) return undefined;
  const name = oidText(der.subarray(oid.start, oid.end));
  if (name !== RSASSA_PSS) return SIGNATURE_HASHES[name];
  // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] EXPLICIT AlgorithmIdentifier DEFAULT sha1, ... }
  const params = oid.end < algorithm.end ? readTlv(der, oid.end, SEQUENCE) : undefined;
  if (params === undefined) return PSS_HASHES['1.3.14.3.2.26'];
  const explicit = params.start < params.end ? readTlv(der, params.start, CONTEXT_0) : undefined;
  if (explicit === undefined) return PSS_HASHES['1.3.14.3.2.26'];
  const hashAlgorithm = readTlv(der, explicit.start, SEQUENCE);
  const hashOid = hashAlgorithm && readTlv(der, hashAlgorithm.start, OID);
  return hashOid && PSS_HASHES[oidText(der.subarray(hashOid.start, hashOid.end))];
}

const SEQUENCE = 0x30;
const OID = 0x06;
const CONTEXT_0 = 0xa0;

interface Tlv {
  /** Where the value starts and ends (exclusive). */
  readonly start: number;
  readonly end: number;
}

/** One DER element of tag `tag` at `offset` (definite lengths of at most 4 bytes), or undefined. */
function readTlv(der: Buffer, offset: number, tag: number): Tlv | undefined {
  if (der[offset] !== tag) return undefined;
  let length = der[offset + 1];
  let start = offset + 2;
  if (length === undefined) return undefined;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > der.length) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] as number);
    start += count;
  }
  const end = start + length;
  return end <= der.length ? { start, end } : undefined;
}

/** An OBJECT IDENTIFIER's content octets in dotted form. */
function oidText(bytes: Buffer): string {
  const parts: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}
