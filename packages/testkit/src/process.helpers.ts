import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface ProcessOutput {
  /** Everything captured so far (stdout and stderr interleaved as they arrived), capped at `maxBytes`. */
  text(): string;
  /** The last `lines` lines captured so far. */
  tail(lines?: number): string;
  /** Resolves with the first line matching `pattern`; rejects on timeout or when the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/**
 * Captures a child's stdout and stderr (keeping the last `maxBytes`), for readiness checks and error messages.
 * @example const out = collectProcessOutput(spawn('node', ['server.js'])); await out.waitFor(/listening/);
 */
export function collectProcessOutput(child: ChildProcess, { maxBytes = 1 << 20 } = {}): ProcessOutput {
  let captured = '';
  let exited: string | null = null;
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer | string) => {
    captured += chunk.toString();
    if (captured.length > maxBytes) captured = captured.slice(captured.length - maxBytes);
    for (const wake of waiters) wake();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('exit', (code, signal) => {
    exited = signal ? `signal ${signal}` : `code ${code}`;
    for (const wake of waiters) wake();
  });

  return {
    text: () => captured,
    tail: (lines = 40) => lastLines(captured, lines),
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = captured.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) return finish(() => resolve(line));
          if (exited !== null) {
            return finish(() =>
              reject(
                new Error(
                  `process exited (${exited}) before printing ${pattern}:\n${lastLines(captured, 40)}`,
                ),
              ),
            );
          }
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(
                new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${lastLines(captured, 40)}`),
              ),
            ),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** The last `lines` lines of a text file, or '' if it does not exist (for error messages). */
export function tailFile(path: string, lines = 40): string {
  if (!existsSync(path)) return '';
  return lastLines(readFileSync(path, 'utf8'), lines);
}

function lastLines(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

// Children that must not outlive this process. An 'exit' handler can only run synchronous code,
// which is all we need: SIGKILL now, clean-up callbacks (rmSync of temp dirs) after.
const doomed = new Map<ChildProcess, () => void>();
let exitHookInstalled = false;

/**
 * Kills `child` with SIGKILL when this process exits, then runs `cleanupSync`; returns a function that
 * cancels this (call it once the child has been stopped properly).
 */
export function killOnExit(child: ChildProcess, cleanupSync: () => void = () => {}): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const [proc, cleanup] of doomed) {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
        try {
          cleanup();
        } catch {
          // Best effort while exiting: nothing left to report to.
        }
      }
    });
  }
  doomed.set(child, cleanupSync);
  return () => {
    doomed.delete(child);
  };
}
