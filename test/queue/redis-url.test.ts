/** Redis URLs of the queue commands: parsed into connection options; shown without credentials. */
import { describe, expect, it } from 'vitest';
import { parseRedisUrl, redactRedisUrl } from '../../src/queue/redis-url.js';
import { expectUserError } from '../fixtures/user-error.js';

describe('redis URLs', () => {
  it('parses user, password (percent-decoded), port, database and TLS', () => {
    expect(parseRedisUrl('rediss://worker:p%40ss@cache.example:6380/2')).toEqual({
      host: 'cache.example',
      port: 6380,
      db: 2,
      username: 'worker',
      password: 'p@ss',
      tls: { servername: 'cache.example' },
      maxRetriesPerRequest: null,
    });
    expect(parseRedisUrl('redis://127.0.0.1')).toEqual({ host: '127.0.0.1', port: 6379, db: 0, maxRetriesPerRequest: null });
  });
  it('never shows the credentials', () => {
    expect(redactRedisUrl('redis://worker:s3cret@h:1/0')).toBe('redis://***:***@h:1/0');
    expect(redactRedisUrl('redis://:s3cret@h:1')).toBe('redis://:***@h:1');
  });
  it('refuses other schemes and bad databases without echoing the password', async () => {
    const err = await expectUserError(Promise.resolve().then(() => parseRedisUrl('http://u:s3cret@h:1')), 'BAD_OPTION');
    expect(err.message).not.toContain('s3cret');
    await expectUserError(Promise.resolve().then(() => parseRedisUrl('redis://h:1/x')), 'BAD_OPTION');
  });
});
