/**
 * Redis URLs for the apply queue: redis://[user[:password]@]host[:port][/db] and rediss:// (TLS). Parsed into the
 * connection options BullMQ passes to ioredis, and shown everywhere (logs, errors, records) with the user and the
 * password replaced, so that no credential leaves the process.
 */
import { MedpersamUserError } from '../errors.js';

export interface RedisConnection {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  /** Present for rediss:// (TLS with the system's CAs; the host name is checked). */
  tls?: { servername: string };
  /** BullMQ workers need requests to wait for a reconnect rather than fail (its documented requirement). */
  maxRetriesPerRequest: null;
}

/** The URL with its credentials replaced by "***" (for every message and record). */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username) u.username = '***';
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable redis URL)';
  }
}

export function parseRedisUrl(url: string): RedisConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MedpersamUserError('BAD_OPTION', 'the --redis URL is not a URL (expected redis://host:port or rediss://user:password@host:port/db)');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new MedpersamUserError('BAD_OPTION', `the --redis URL must start with redis:// or rediss://, got ${redactRedisUrl(url)}`);
  }
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new MedpersamUserError('BAD_OPTION', `the --redis URL's database must be a number, got ${redactRedisUrl(url)}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    host,
    port: u.port === '' ? 6379 : Number(u.port),
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: { servername: host } } : {}),
    maxRetriesPerRequest: null,
  };
}
