/**
 * Voice, wired to the pair server's voice module (issue "Voice"). Two servers take part:
 * - the pair server: `GET <base>peerplatform/api/voice` says whether this server relays a call
 *   (`{"session", "service_url", "signal_url"}`; 404: no voice on this server, and the panel
 *   says voice is unavailable), and serves `<base>peerplatform/static/voice.js`, a plain ES
 *   module loaded at run time (not bundled): `connect({baseUrl, serviceXsrf, onState,
 *   onPartnerMute, onError})` joins the call → a call with `mute(bool)`, `leave()` and `state`
 *   in idle|connecting|connected|failed|ended;
 * - the platform service, which holds every voice secret: `GET <service>api/voice/<session>`
 *   describes the call (its `mode`, "twilio" or "webrtc"; what voice.js's `describe()` reads
 *   too), asked here with the service's XSRF token from `api.ts`, which `connect()` gets as
 *   `serviceXsrf` (one hidden bridge page for the whole panel).
 * The mode only names the call in the panel and picks the bundled Twilio SDK: when the service
 * cannot tell it yet, the learner may join all the same and `connect()` says what is wrong.
 *
 * The module reports non-fatal trouble through onError too (a Twilio device error it retries, a
 * token it could not renew, the server's `error` frames): only onState says whether the call
 * is still up, so an error changes the message and never the state.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ApiError, pairApi, platformApi, serviceXsrf } from './api';

export type CallState = 'unavailable' | 'idle' | 'connecting' | 'connected' | 'failed' | 'ended';

export interface IVoiceCall {
  state: string;
  mute(muted: boolean): unknown;
  leave(): unknown;
}

/** The options of the voice module's `connect()` (see voice.js's header). */
export interface IConnectOptions {
  baseUrl: string;
  Device?: unknown;
  /** The platform service's XSRF token (default: the module reads it itself). */
  serviceXsrf?: () => Promise<string>;
  onState(state: string): void;
  onPartnerMute(muted: boolean): void;
  onPartnerPresent(present: boolean): void;
  onError(error: unknown): void;
}

/** What the platform service says of the call (`api/voice/<session>`; more fields unused). */
export interface IVoiceInfo {
  mode?: string;
}

export interface IVoiceModule {
  connect(options: IConnectOptions): Promise<IVoiceCall>;
}

/** Where the voice endpoint and module come from (the pair server; a fake in unit tests). */
export interface IVoiceBackend {
  /** The pair server's voice endpoint; an {@link ApiError} 404 when it has no voice. */
  info(): Promise<IVoiceInfo>;
  /** The call's description from the platform service (its mode), without joining. */
  describe?(): Promise<IVoiceInfo>;
  load(mode: string | null): Promise<{
    module: IVoiceModule;
    baseUrl: string;
    Device?: unknown;
    serviceXsrf?: () => Promise<string>;
  }>;
}

let loadedModule: Promise<IVoiceModule> | null = null;

/**
 * The voice module the pair server serves, loaded once. Not `import(url)`: a module import is
 * a CORS-mode request with only the login cookie, which a server behind JupyterHub refuses
 * (a redirect to the login, in a loop); the text is fetched as JupyterLab's own requests are
 * (with the page's token) and imported from a blob.
 */
function voiceModule(settings: ServerConnection.ISettings): Promise<IVoiceModule> {
  if (!loadedModule) {
    loadedModule = (async () => {
      const url = URLExt.join(settings.baseUrl, 'peerplatform/static/voice.js');
      // 'no-cache' revalidates, without the query string 'no-store' would add to the URL
      const resp = await ServerConnection.makeRequest(url, { cache: 'no-cache' }, settings);
      if (!resp.ok) {
        throw new ApiError(resp.status, `the voice module did not load (${resp.status})`);
      }
      const blob = new Blob([await resp.text()], { type: 'text/javascript' });
      const blobUrl = URL.createObjectURL(blob);
      try {
        return await import(/* webpackIgnore: true */ blobUrl);
      } finally {
        URL.revokeObjectURL(blobUrl);
      }
    })();
    loadedModule.catch(() => (loadedModule = null));
  }
  return loadedModule;
}

/** The service's XSRF token, shared with the panel's other calls to the service. */
const platformXsrf = (): Promise<string> => serviceXsrf();

/** Where the pair server says the call is (its voice endpoint). */
interface IWhere extends IVoiceInfo {
  session?: string;
}

export const serverVoice: IVoiceBackend = {
  info: () => pairApi<IWhere>('voice'),
  async describe() {
    const where = await pairApi<IWhere>('voice');
    if (!where?.session) {
      return {};
    }
    return platformApi<IVoiceInfo>(`voice/${encodeURIComponent(where.session)}`);
  },
  async load(mode) {
    const settings = ServerConnection.makeSettings();
    const module = await voiceModule(settings);
    // Twilio mode needs Twilio's Voice SDK (bundled here, loaded only for Twilio calls; with
    // the mode unknown, voice.js loads the SDK the service serves if the call is Twilio's)
    const Device = mode === 'twilio' ? (await import('@twilio/voice-sdk')).Device : undefined;
    return { module, baseUrl: settings.baseUrl, Device, serviceXsrf: platformXsrf };
  }
};

export interface IVoiceView {
  state: CallState;
  mode: string | null;
  muted: boolean;
  partnerMuted: boolean | null;
  /** The partner is in the call (null: not told). */
  partnerPresent: boolean | null;
  message: string;
}

/** How the panel names the call. */
function callLabel(mode: string | null): string {
  if (mode === 'twilio') {
    return 'Voice call (Twilio)';
  }
  return mode === 'webrtc' ? 'Voice call (WebRTC)' : 'Voice call';
}

/** The module's explanation, without the "voice:" most of its messages start with. */
function reasonOf(error: unknown): string {
  return String((error as Error)?.message ?? error).replace(/^voice:\s*/i, '');
}

export class Voice {
  constructor(
    private onChange: () => void,
    private backend: IVoiceBackend = serverVoice
  ) {}

  view: IVoiceView = {
    state: 'unavailable',
    mode: null,
    muted: false,
    partnerMuted: null,
    partnerPresent: null,
    message: 'Checking voice…'
  };

  /**
   * Ask the pair server whether it relays a call, then the platform service what kind of call
   * it is. Joining is possible as soon as the pair server said yes: a service that does not
   * answer yet leaves the kind unnamed ("Voice call"), and `connect()` reports why it fails.
   */
  async probe(): Promise<void> {
    let mode: string | null;
    try {
      const info = await this.backend.info();
      mode = info?.mode ?? null;
      this._set({ state: 'idle', mode, message: callLabel(mode) });
    } catch (e) {
      const status = e instanceof ApiError ? e.status : 0;
      this._set({
        state: 'unavailable',
        message:
          status === 404
            ? 'Voice is unavailable on this server.'
            : `Voice is unavailable: ${(e as Error).message}`
      });
      return;
    }
    if (mode === null) {
      await this._describe();
    }
  }

  /** Name the call with the mode the service gives (only the name: the call is untouched). */
  private async _describe(): Promise<void> {
    if (!this.backend.describe) {
      return;
    }
    let mode: string | null;
    try {
      mode = (await this.backend.describe())?.mode ?? null;
    } catch {
      return; // not logged in, the session is over, the service is away: join() will say
    }
    if (mode === null || this.view.mode !== null) {
      return;
    }
    const untouched = this.view.state === 'idle' && this.view.message === callLabel(null);
    this._set(untouched ? { mode, message: callLabel(mode) } : { mode });
  }

  async join(): Promise<void> {
    const busy = this._call !== null || this.view.state === 'connecting';
    if (busy || this.view.state === 'unavailable') {
      return;
    }
    // events of an earlier call (one that failed or was left) must not steer this one
    const attempt = ++this._attempt;
    const current = () => attempt === this._attempt;
    const ours =
      <A extends unknown[]>(handler: (...args: A) => void) =>
      (...args: A): void => {
        if (current()) {
          handler(...args);
        }
      };
    this._reason = null;
    this._everConnected = false;
    this._set({ state: 'connecting', message: 'Connecting the call…' });
    try {
      const { module, baseUrl, Device, serviceXsrf } = await this.backend.load(this.view.mode);
      const call = await module.connect({
        baseUrl,
        Device,
        serviceXsrf,
        onState: ours((state: string) => this._onState(state)),
        onPartnerMute: ours((muted: boolean) => this._set({ partnerMuted: !!muted })),
        onPartnerPresent: ours((present: boolean) => this._set({ partnerPresent: !!present })),
        onError: ours((error: unknown) => this._onError(error))
      });
      if (!current()) {
        call?.leave(); // the learner left while it was connecting
        return;
      }
      // a failure reported before connect() resolved already ended this attempt
      if (this.view.state !== 'failed' && this.view.state !== 'ended') {
        this._call = call;
        this._onState(call?.state ?? 'connecting');
      }
    } catch (e) {
      if (current()) {
        this._call = null;
        this._reason = reasonOf(e);
        this._set({ state: 'failed', message: this._failedMessage() });
      }
    }
  }

  mute(muted: boolean): void {
    if (this._call) {
      this._call.mute(muted);
      this._set({ muted });
    }
  }

  leave(): void {
    if (!this._call && this.view.state !== 'connecting') {
      return;
    }
    const call = this._call;
    this._attempt++;
    this._call = null;
    try {
      call?.leave();
    } finally {
      this._set({
        state: 'idle',
        muted: false,
        partnerMuted: null,
        partnerPresent: null,
        message: 'You left the call.'
      });
    }
  }

  private _onError(error: unknown): void {
    // the state stays what onState last said: a fatal error is followed by 'failed'
    this._reason = reasonOf(error);
    this._set({ message: `Voice: ${this._reason}` });
  }

  private _onState(state: string): void {
    const known: CallState[] = ['idle', 'connecting', 'connected', 'failed', 'ended'];
    const s = (known as string[]).includes(state) ? (state as CallState) : 'connecting';
    const messages: Record<string, string> = {
      idle: 'Not in the call.',
      connecting: 'Connecting the call…',
      connected: 'In the call.',
      ended: 'The call ended.'
    };
    if (s === 'failed' || s === 'ended') {
      this._call = null;
    }
    if (s === 'connected') {
      this._everConnected = true;
      this._reason = null;
    }
    if (s === 'failed') {
      if (this.view.state !== 'failed') {
        this._set({ state: s, message: this._failedMessage() });
      }
      return;
    }
    this._set({ state: s, message: messages[s] });
  }

  /** Why the call failed, in the module's words when it gave them (onError comes first). */
  private _failedMessage(): string {
    const what = this._everConnected ? 'The call was lost' : 'The call could not connect';
    return this._reason
      ? `${what}: ${this._reason}`
      : `${what}. Check your microphone permission and network, then try again.`;
  }

  private _set(patch: Partial<IVoiceView>): void {
    this.view = { ...this.view, ...patch };
    this.onChange();
  }

  private _call: IVoiceCall | null = null;
  private _attempt = 0;
  private _reason: string | null = null;
  private _everConnected = false;
}
