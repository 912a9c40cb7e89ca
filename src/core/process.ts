/**
 * Whether a process of this machine is alive. `EPERM` means it exists but belongs to another
 * user: alive too.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
