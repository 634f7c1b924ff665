/**
 * The `--queue redis://…` address: parsed into connection options, checked once before anything
 * is queued (reachable, password, a Redis BullMQ can run on), and written without its password
 * wherever it is printed.
 */
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

/** BullMQ 6 refuses a Redis older than this (RedisConnection.minimumVersion). */
export const MINIMUM_REDIS_VERSION = '5.0.0';

export class QueueAddressError extends Error {
  override readonly name = 'QueueAddressError';
}

export interface QueueAddress {
  /** The address as people may see it: the password replaced by `***`. */
  display: string;
  options: RedisOptions;
}

/** `redis://[user][:password]@host[:port][/db]` or `rediss://…` (TLS). */
export function parseQueueAddress(text: string): QueueAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new QueueAddressError(
      `--queue must be an address such as redis://host:6379 (got "${redactQueueText(text)}")`,
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new QueueAddressError(
      `--queue must start with redis:// or rediss:// (got "${redactQueueText(text)}")`,
    );
  if (!url.hostname) throw new QueueAddressError('--queue names no host (redis://host:6379)');
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || db > 15)
    throw new QueueAddressError(`--queue: the database number must be 0..15 (got "${dbText}")`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const options: RedisOptions = {
    host,
    port,
    db,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    // TLS trusts the system's CAs plus NODE_EXTRA_CA_CERTS (a queue's private CA; Node reads it
    // at start). SNI carries host names only (RFC 6066): an IP address is checked against the
    // certificate's IP names without it, and setting it prints a deprecation warning.
    ...(url.protocol === 'rediss:' ? { tls: isIP(host) ? {} : { servername: host } } : {}),
  };
  return { display: redactQueueText(text), options };
}

/** Any `scheme://user:password@` in `text` with the password replaced by `***`. */
export function redactQueueText(text: string): string {
  return text.replace(/(rediss?:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1:***@');
}

/**
 * Options for the long-lived connections BullMQ holds: they reconnect for ever (a Redis
 * restart or a dropped network is waited out) and never fail a command while reconnecting.
 */
export function persistentOptions(address: QueueAddress): RedisOptions {
  return {
    ...address.options,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
}

/** The same, as BullMQ's Queue, Worker and QueueEvents take them (each opens its own). */
export function bullConnection(address: QueueAddress): ConnectionOptions {
  return persistentOptions(address) as ConnectionOptions;
}

/**
 * One quick look before anything is queued or taken: the server answers, accepts the
 * password, and is a Redis BullMQ runs on. Throws QueueAddressError with one line otherwise.
 */
export async function checkQueue(address: QueueAddress, timeoutMs = 5000): Promise<string> {
  const client = new Redis({
    ...address.options,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  // With retries off, connect() rejects with "Connection is closed"; the cause came first.
  let cause: unknown = null;
  client.on('error', (error: unknown) => (cause ??= error));
  try {
    await client.connect().catch((error: unknown) => {
      throw cause ?? error;
    });
    const info = await client.info('server');
    const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? '0.0.0';
    if (compareVersions(version, MINIMUM_REDIS_VERSION) < 0)
      throw new QueueAddressError(
        `the Redis at ${address.display} is version ${version}; the queue needs Redis ${MINIMUM_REDIS_VERSION} or newer (7.x recommended)`,
      );
    return version;
  } catch (error) {
    if (error instanceof QueueAddressError) throw error;
    throw new QueueAddressError(connectionProblem(address, error));
  } finally {
    client.disconnect();
  }
}

/** One line for what went wrong talking to Redis: no stack, never the password. */
export function connectionProblem(address: QueueAddress, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as NodeJS.ErrnoException | null)?.code ?? '';
  const where = address.display;
  if (/WRONGPASS|invalid username-password|invalid password/i.test(message))
    return `the Redis at ${where} refused the password (WRONGPASS)`;
  if (/NOAUTH|Authentication required/i.test(message))
    return `the Redis at ${where} needs a password: redis://:PASSWORD@host:port`;
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message))
    return `cannot reach Redis at ${where}: connection refused (is redis-server running there?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /ENOTFOUND|EAI_AGAIN/.test(message))
    return `cannot reach Redis at ${where}: unknown host`;
  if (code === 'ETIMEDOUT' || /ETIMEDOUT|timed? ?out/i.test(message))
    return `cannot reach Redis at ${where}: no answer (timed out)${address.options.tls ? '; is that its TLS port (redis-server --tls-port)?' : ''}`;
  if (TLS_TRUST_CODES.has(code) || /certificate/i.test(message))
    return `the TLS certificate of the Redis at ${where} is not trusted (${redactQueueText(message.split('\n')[0]!)}): give its CA certificate with NODE_EXTRA_CA_CERTS=/path/to/ca.pem`;
  if (/Connection is closed|ECONNRESET/i.test(message))
    return `cannot reach Redis at ${where}: the connection was closed (a TLS address needs rediss://, a plain one redis://)`;
  return `cannot use Redis at ${where}: ${redactQueueText(message.split('\n')[0]!)}`;
}

/** OpenSSL's and Node's codes for a server certificate this computer does not trust. */
const TLS_TRUST_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
