/**
 * The sink on a CPU of its own, every cell process (this client, nodemailer, the raw clients) on the others, with
 * taskset (util-linux), as a client and a server on two machines. Unpinned on this project's 2-core machine, the
 * scheduler put the client and the sink on one core and apart again within a run: the 64-in-flight cell went at
 * 55,000-75,000 or 100,000-110,000 msgs/s by where they ran, switching in mid-window, and the raw client at
 * 280,000-640,000 msgs/s; pinned, 106,000-109,000 and 659,000-663,000 msgs/s in three runs each (session 8). Without
 * taskset, or with fewer than two CPUs allowed, nothing is pinned and the report says so.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export interface Pinning {
  /** taskset CPU lists. */
  readonly sink: string;
  readonly cells: string;
}

let decided: { readonly pinning: Pinning | undefined } | undefined;

/** The CPUs for each side, or undefined when the bench cannot pin (decided once). */
export function cpuPinning(): Pinning | undefined {
  decided ??= { pinning: choose() };
  return decided.pinning;
}

function choose(): Pinning | undefined {
  // The CPUs this process may run on, as taskset prints them: "pid 42's current affinity list: 0-3,6".
  const probe = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return undefined;
  const list = /:\s*([\d,-]+)\s*$/.exec(probe.stdout)?.[1];
  if (list === undefined) return undefined;
  const cpus = list.split(',').flatMap((range) => {
    const [first, last = first] = range.split('-').map(Number) as [number, number?];
    return Array.from({ length: last - first + 1 }, (_, i) => first + i);
  });
  if (cpus.length < 2) return undefined;
  return { sink: String(cpus[cpus.length - 1]), cells: cpus.slice(0, -1).join(',') };
}

/** Moves every thread of process `pid` onto `cpus`; threads it starts later inherit them. */
export function pin(pid: number | undefined, cpus: string): void {
  if (pid === undefined) throw new Error('bench: a process to pin has no pid (it did not start)');
  execFileSync('taskset', ['-a', '-pc', cpus, String(pid)], { stdio: 'ignore' });
}

/** The sentence the report gives about it. */
export function pinningText(): string {
  const pinning = cpuPinning();
  return pinning === undefined
    ? 'client and sink not pinned to CPUs (no taskset, or one CPU): the scheduler may put them on one core'
    : `the sink pinned to CPU ${pinning.sink}, every cell process to CPU ${pinning.cells} (taskset)`;
}
