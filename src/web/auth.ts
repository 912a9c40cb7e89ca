import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { EasError, type WebTokens } from '../core/index.js';

/** What a request may do: read every view, or also cancel, rerun and reschedule jobs. */
export type AccessScope = 'read' | 'write';

/** True for an address that only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return isLoopbackHost(h.slice('::ffff:'.length));
  return false;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Decides the scope of each request from its `Authorization: Bearer …` header.
 *
 * - With no token configured the dashboard must be bound to loopback; every request reads, none
 *   writes, and the `Host` header must name a loopback address too (so a web page that
 *   rebinds its own DNS name to 127.0.0.1 cannot read the API through the victim's browser).
 * - With tokens, every API request must carry one: the write token gives `write`, the read
 *   token `read`. Tokens are compared as SHA-256 digests with `timingSafeEqual`, so neither
 *   their content nor their length leaks through response times.
 */
export class AccessControl {
  private readonly read: Buffer | undefined;
  private readonly write: Buffer | undefined;
  /** Whether requests must carry a token. */
  readonly tokenRequired: boolean;

  /** @throws EasError `USAGE` when `host` is beyond loopback and no token is configured. */
  constructor(host: string, tokens: WebTokens) {
    this.read = tokens.readToken === undefined ? undefined : digest(tokens.readToken);
    this.write = tokens.writeToken === undefined ? undefined : digest(tokens.writeToken);
    this.tokenRequired = this.read !== undefined || this.write !== undefined;
    if (!this.tokenRequired && !isLoopbackHost(host)) {
      throw new EasError(
        'USAGE',
        `Refusing to serve the dashboard on ${host} without a bearer token: anyone who can reach ` +
          'that address could read every job. Set EAS_WEB_TOKEN (read) and/or EAS_WEB_WRITE_TOKEN ' +
          '(write), or their *_FILE variants, e.g. EAS_WEB_TOKEN_FILE=token.txt with a token from ' +
          '`openssl rand -hex 16`; or bind to 127.0.0.1.',
        { where: '--host' },
      );
    }
  }

  /**
   * The scope of a request with this `Authorization` header, or undefined when it must be
   * refused (401).
   */
  scopeOf(authorization: string | undefined): AccessScope | undefined {
    if (!this.tokenRequired) return 'read';
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const given = digest(m[1]!);
    // Both comparisons always run: which token matched does not show in the timing either.
    const isWrite = this.write !== undefined && timingSafeEqual(given, this.write);
    const isRead = this.read !== undefined && timingSafeEqual(given, this.read);
    if (isWrite) return 'write';
    if (isRead) return 'read';
    return undefined;
  }

  /**
   * Whether a request's `Host` header is acceptable: any host when tokens protect the API,
   * only a loopback name otherwise (DNS-rebinding defence).
   */
  hostAllowed(hostHeader: string | undefined): boolean {
    if (this.tokenRequired) return true;
    if (!hostHeader) return false;
    const host = hostHeader.startsWith('[')
      ? hostHeader.slice(0, hostHeader.indexOf(']') + 1)
      : hostHeader.replace(/:\d+$/, '');
    return isLoopbackHost(host);
  }
}

/**
 * Checks, before anything is opened, that the dashboard may bind `host` with these tokens.
 *
 * @throws EasError `USAGE` (exit 2) when `host` is beyond loopback and no token is configured.
 */
export function assertBindAllowed(host: string, tokens: WebTokens): void {
  void new AccessControl(host, tokens);
}
