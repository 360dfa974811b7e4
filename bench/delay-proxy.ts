/**
 * A delaying TCP proxy for `npm run bench -- --rtt N`, run as its own process:
 *
 *   node build/bench/delay-proxy.js <upstreamPort> <oneWayMs>
 *
 * Listens on 127.0.0.1 (port announced over IPC as { type: 'ready', port }) and forwards every connection to
 * 127.0.0.1:<upstreamPort>, holding each chunk for `oneWayMs` in each direction: order kept, no bandwidth limit.
 * The upstream connection is opened at once, so the TCP handshake costs nothing here (a real path adds one round
 * trip for it). One timer per direction serves its queue of chunks. It stops by itself after LIFETIME_MS.
 * Measured on this 2-core machine: a round trip through it takes the RTT plus about 0.1-0.3 ms.
 */
import net from 'node:net';

const LIFETIME_MS = 15 * 60_000;
/** A direction that holds this much unsent stops reading from its source until it drains. */
const HIGH_WATER_BYTES = 8 * 1024 * 1024;
/** How early the timer wakes before a chunk is due (Node timers fire up to about a millisecond late). */
const EARLY_MS = 1;

interface Held {
  readonly due: number;
  readonly chunk: Buffer;
}

/**
 * Forwards `from` to `to`, each chunk `delayMs` after it arrived. Timers fire up to a millisecond late, which at a
 * 10 ms RTT would add 10 % per round trip: the timer is set to wake a millisecond early, and the rest of the wait is
 * spent yielding to I/O with setImmediate (that costs CPU only in the last millisecond of a wait).
 */
function delayed(from: net.Socket, to: net.Socket, delayMs: number): void {
  const queue: Held[] = [];
  let head = 0;
  let held = 0;
  let armed = false;
  let ended = false;
  const arm = (): void => {
    armed = true;
    const wait = (queue[head] as Held).due - performance.now();
    // Whole milliseconds: a fractional duration can fire a whole timer period late.
    if (wait > EARLY_MS + 1) setTimeout(release, Math.floor(wait - EARLY_MS));
    else setImmediate(release);
  };
  const release = (): void => {
    armed = false;
    const now = performance.now();
    while (head < queue.length && (queue[head] as Held).due <= now) {
      const { chunk } = queue[head++] as Held;
      held -= chunk.length;
      if (!to.destroyed) to.write(chunk);
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
      if (ended) to.end();
    } else {
      arm();
    }
    if (held < HIGH_WATER_BYTES && from.isPaused()) from.resume();
  };
  from.on('data', (chunk: Buffer) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    held += chunk.length;
    if (held >= HIGH_WATER_BYTES) from.pause();
    if (!armed) arm();
  });
  from.on('end', () => {
    ended = true;
    if (!armed && head === queue.length) to.end();
  });
}

function main(): void {
  const [upstreamText = '', delayText = ''] = process.argv.slice(2);
  const upstreamPort = Number(upstreamText);
  const delayMs = Number(delayText);
  if (!Number.isInteger(upstreamPort) || !(delayMs >= 0)) throw new Error('usage: delay-proxy.js <port> <oneWayMs>');
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      // What the closing side sent before its FIN is still delivered, `delayMs` later; then the other side goes.
      socket.on('close', () => setTimeout(close, delayMs + 50).unref());
    }
    delayed(client, upstream, delayMs);
    delayed(upstream, client, delayMs);
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address() as net.AddressInfo;
    process.send?.({ type: 'ready', port: address.port });
  });
  setTimeout(() => process.exit(0), LIFETIME_MS).unref();
  process.on('disconnect', () => process.exit(0));
}

main();
