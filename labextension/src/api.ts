/**
 * The two servers the extension talks to:
 * - the pair server (this JupyterLab's server): `<base>peerplatform/api/...` and `/api/me`;
 * - the platform service, through the Hub's proxy on the same origin:
 *   `<hub root>services/peerplatform/api/...` (the rating), cookie-authenticated with the
 *   service's XSRF token from its `/api/me`.
 */
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An API answered with an error status; `message` is the server's explanation. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

async function parse<T>(resp: Response): Promise<T> {
  const text = await resp.text();
  let data: any = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { message: text.slice(0, 200) };
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, data?.message || resp.statusText || `HTTP ${resp.status}`);
  }
  return data as T;
}

/** The pair server's own REST API (`GET|POST peerplatform/api/<path>`). */
export async function pairApi<T = any>(
  path: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'peerplatform/api', path);
  return parse<T>(await ServerConnection.makeRequest(url, init, settings));
}

/** The pair server's base URL (`/user/pp-pairs/s-<id>/`), e.g. for the voice module. */
export function serverBaseUrl(): string {
  return ServerConnection.makeSettings().baseUrl;
}

/**
 * May the current user write contents right now? Asked of the server's Authorizer through
 * `/api/me?permissions=...` (it follows role swaps at once). null when it cannot be told.
 */
export async function canWriteContents(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<boolean | null> {
  const q = encodeURIComponent(JSON.stringify({ contents: ['write'] }));
  const url = URLExt.join(settings.baseUrl, 'api/me') + `?permissions=${q}`;
  try {
    const me = await parse<any>(await ServerConnection.makeRequest(url, {}, settings));
    const granted: string[] = me?.permissions?.contents ?? [];
    return granted.includes('write');
  } catch {
    return null;
  }
}

/** Root of the Hub's public URL (`/` for a Hub at the root), from JupyterHub's page config. */
export function hubRoot(): string {
  const prefix = PageConfig.getOption('hubPrefix') || '/hub/';
  return prefix.replace(/hub\/?$/, '') || '/';
}

/** The platform service's lobby (where learners go after the session). */
export function lobbyUrl(): string {
  return URLExt.join(hubRoot(), 'services/peerplatform/');
}

let xsrfToken: Promise<string> | null = null;

/**
 * The platform service's XSRF token. Browsers send `Sec-Fetch-Mode: cors` with every fetch,
 * and JupyterHub then accepts the service's login cookie only with the token, which this page
 * cannot read (its cookie belongs to the service's path). A navigation needs no token: the
 * service's `lab-bridge` page, loaded in a hidden same-origin iframe, hands it over.
 */
export function serviceXsrf(timeoutMs = 20000): Promise<string> {
  if (!xsrfToken) {
    xsrfToken = new Promise<string>((resolve, reject) => {
      const frame = document.createElement('iframe');
      frame.hidden = true;
      frame.tabIndex = -1;
      frame.title = 'peerplatform session bridge';
      frame.setAttribute('aria-hidden', 'true');
      const done = (error: Error | null, token = '') => {
        window.clearTimeout(timer);
        frame.remove();
        if (error) {
          reject(error);
        } else {
          resolve(token);
        }
      };
      const timer = window.setTimeout(
        () => done(new Error('the platform did not answer in time')),
        timeoutMs
      );
      frame.addEventListener('load', () => {
        let token: string | undefined;
        try {
          token = frame.contentDocument?.body?.dataset?.xsrf;
        } catch {
          token = undefined;
        }
        if (token) {
          done(null, token);
        } else {
          done(new Error('you are not logged in to the platform any more: log in from the lobby'));
        }
      });
      frame.src = URLExt.join(hubRoot(), 'services/peerplatform/lab-bridge');
      document.body.appendChild(frame);
    });
    xsrfToken.catch(() => (xsrfToken = null));
  }
  return xsrfToken;
}

/** The platform service's JSON API, cookie-authenticated (same origin through the proxy). */
export async function platformApi<T = any>(
  path: string,
  init: RequestInit = {},
  retry = true
): Promise<T> {
  const url = URLExt.join(hubRoot(), 'services/peerplatform/api', path);
  const headers = new Headers(init.headers);
  headers.set('X-XSRFToken', await serviceXsrf());
  headers.set('Accept', 'application/json');
  if (init.body) {
    headers.set('Content-Type', 'application/json');
  }
  const resp = await fetch(url, { ...init, headers, credentials: 'same-origin' });
  if (resp.status === 403 && retry) {
    // the token may be stale (a new login since): fetch it again, once
    xsrfToken = null;
    return platformApi<T>(path, init, false);
  }
  return parse<T>(resp);
}
