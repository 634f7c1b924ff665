import { timingSafeEqual } from 'node:crypto';

/**
 * Who may talk to the web-mode server. It listens on 127.0.0.1 only, but any web page the user
 * visits can also send requests to 127.0.0.1, and DNS rebinding can make a foreign name resolve
 * there. So every request must carry the token from the printed URL, name our own Host, and
 * (when a browser sends one) come from our own Origin.
 */
export interface GuardedRequest {
  method: string;
  /** Path and query, as in `IncomingMessage.url`. */
  url: string;
  host: string | undefined;
  origin: string | undefined;
  /** `Authorization: Bearer <token>` header value, if any. */
  authorization: string | undefined;
}

export type GuardVerdict =
  { allowed: true } | { allowed: false; status: 401 | 403 | 421; reason: string };

export interface GuardSettings {
  token: string;
  port: number;
  /** Paths anyone may load without the token: the public renderer bundle (code, styles, icons). */
  isPublicAsset: (pathname: string) => boolean;
}

export function checkRequest(request: GuardedRequest, settings: GuardSettings): GuardVerdict {
  const ownHosts = [`127.0.0.1:${settings.port}`, `localhost:${settings.port}`];
  if (!request.host || !ownHosts.includes(request.host.toLowerCase())) {
    return {
      allowed: false,
      status: 421,
      reason: `Host ${request.host ?? '(none)'} is not this server`,
    };
  }
  if (
    request.origin !== undefined &&
    !ownHosts.map((host) => `http://${host}`).includes(request.origin.toLowerCase())
  ) {
    return {
      allowed: false,
      status: 403,
      reason: `Origin ${request.origin} may not use this server`,
    };
  }
  const url = new URL(request.url, 'http://placeholder');
  if (request.method === 'GET' && settings.isPublicAsset(url.pathname)) return { allowed: true };
  const presented = bearerToken(request.authorization) ?? url.searchParams.get('token');
  if (presented === null || !tokensMatch(presented, settings.token)) {
    return { allowed: false, status: 401, reason: 'missing or wrong token' };
  }
  return { allowed: true };
}

function bearerToken(authorization: string | undefined): string | null {
  const match = authorization?.match(/^Bearer ([A-Za-z0-9_-]+)$/);
  return match?.[1] ?? null;
}

function tokensMatch(presented: string, expected: string): boolean {
  const presentedBytes = Buffer.from(presented);
  const expectedBytes = Buffer.from(expected);
  return (
    presentedBytes.length === expectedBytes.length && timingSafeEqual(presentedBytes, expectedBytes)
  );
}
