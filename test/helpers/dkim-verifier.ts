/**
 * dkimpy (Debian's python3-dkim) as an independent DKIM verifier: a small Python program verifies every
 * DKIM-Signature of a message, its DNS lookups answered from the records the test gives (the public keys it made),
 * never from the network. `dkimpyPython()` finds an interpreter that has it (the first `python3` on PATH may be
 * another Python than Debian's, without Debian's packages); tests skip with a printed reason when none has.
 */
import { execFile, spawnSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';

const CANDIDATES = ['python3', '/usr/bin/python3'];

const PROGRAM = String.raw`
import base64, json, sys
import dkim
request = json.load(sys.stdin)
records = {name.rstrip('.').lower(): text for name, text in request['records'].items()}
asked = []
def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode('ascii')
    asked.append(name)
    text = records.get(name.rstrip('.').lower())
    return None if text is None else text.encode('ascii')
def verify(message):
    count = len([1 for name, _ in dkim.DKIM(message).headers if name.lower() == b'dkim-signature'])
    results = []
    for index in range(count):
        verifier = dkim.DKIM(message, minkey=1024)
        error = None
        try:
            ok = bool(verifier.verify(idx=index, dnsfunc=dnsfunc))
        except Exception as e:
            ok = False
            error = repr(e)
        fields = verifier.signature_fields or {}
        text = lambda key: fields[key].decode('ascii') if key in fields else None
        verdict = {tag: text(tag.encode('ascii')) for tag in ('d', 's', 'a', 'c', 'h')}
        results.append({'ok': ok, 'error': error, **verdict})
    return results
results = [verify(base64.b64decode(message)) for message in request['messages']]
print(json.dumps({'results': results, 'asked': asked}))
`;

/** The Python that can import dkim, or undefined (then the reason to skip is {@link NO_DKIMPY}). */
export function dkimpyPython(): string | undefined {
  return CANDIDATES.find((python) => spawnSync(python, ['-c', 'import dkim'], { stdio: 'ignore' }).status === 0);
}

export const NO_DKIMPY = 'dkimpy is not installed (apt-get install python3-dkim): no independent DKIM verifier';

/** One DKIM-Signature as dkimpy judged it. */
export interface Verdict {
  readonly ok: boolean;
  readonly error: string | null;
  readonly d: string | null;
  readonly s: string | null;
  readonly a: string | null;
  readonly c: string | null;
  readonly h: string | null;
}

/** The DNS TXT record that publishes `publicKey` (RFC 6376 §3.6.1; Ed25519's raw 32 octets, RFC 8463 §4). */
export function keyRecord(publicKey: KeyObject): string {
  if (publicKey.asymmetricKeyType === 'ed25519') {
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    return `v=DKIM1; k=ed25519; p=${raw.toString('base64')}`;
  }
  return `v=DKIM1; k=rsa; p=${publicKey.export({ format: 'der', type: 'spki' }).toString('base64')}`;
}

/**
 * Every DKIM-Signature of each message verified by dkimpy (one Python process for them all), top one first; `records`
 * maps DNS names to TXT records. `asked` is every name dkimpy looked up.
 */
export function verifyWithDkimpy(
  python: string,
  messages: readonly Buffer[],
  records: Readonly<Record<string, string>>,
): Promise<{ results: Verdict[][]; asked: string[] }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      python,
      ['-c', PROGRAM],
      { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error !== null) return reject(new Error(`dkimpy failed: ${error.message}\n${stderr}`));
        resolve(JSON.parse(stdout) as { results: Verdict[][]; asked: string[] });
      },
    );
    child.stdin?.end(JSON.stringify({ messages: messages.map((message) => message.toString('base64')), records }));
  });
}
