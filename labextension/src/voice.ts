/**
 * Voice, wired to the pair server's voice module (issue "Voice"): `GET <base>peerplatform/api/voice`
 * says whether voice is available (`{"mode": "twilio"|"webrtc", ...}`), and
 * `<base>peerplatform/static/voice.js` is a plain ES module loaded at run time (not bundled):
 * `connect({baseUrl, onState, onPartnerMute, onError})` → a call with `mute(bool)`,
 * `leave()` and `state` in idle|connecting|connected|failed|ended.
 * While the endpoint answers 404 (no voice on this server) the panel says voice is unavailable.
 *
 * The module reports non-fatal trouble through onError too (a Twilio device error it retries, a
 * token it could not renew, the server's `error` frames): only onState says whether the call
 * is still up, so an error changes the message and never the state.
 */
import { URLExt } from '@jupyterlab/coreutils';

import { ApiError, pairApi, serverBaseUrl } from './api';

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
  onState(state: string): void;
  onPartnerMute(muted: boolean): void;
  onPartnerPresent(present: boolean): void;
  onError(error: unknown): void;
}

export interface IVoiceModule {
  connect(options: IConnectOptions): Promise<IVoiceCall>;
}

/** Where the voice endpoint and module come from (the pair server; a fake in unit tests). */
export interface IVoiceBackend {
  info(): Promise<{ mode?: string }>;
  load(mode: string | null): Promise<{ module: IVoiceModule; baseUrl: string; Device?: unknown }>;
}

export const serverVoice: IVoiceBackend = {
  info: () => pairApi<{ mode?: string }>('voice'),
  async load(mode) {
    const baseUrl = serverBaseUrl();
    const url = URLExt.join(baseUrl, 'peerplatform/static/voice.js');
    const module: IVoiceModule = await import(/* webpackIgnore: true */ url);
    // Twilio mode needs Twilio's Voice SDK (bundled here, loaded only for Twilio calls)
    const Device = mode === 'twilio' ? (await import('@twilio/voice-sdk')).Device : undefined;
    return { module, baseUrl, Device };
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

  /** Ask the server whether voice is configured. */
  async probe(): Promise<void> {
    try {
      const info = await this.backend.info();
      this._set({
        state: 'idle',
        mode: info?.mode ?? null,
        message: info?.mode === 'twilio' ? 'Voice call (Twilio)' : 'Voice call (WebRTC)'
      });
    } catch (e) {
      const status = e instanceof ApiError ? e.status : 0;
      this._set({
        state: 'unavailable',
        message:
          status === 404
            ? 'Voice is unavailable on this server.'
            : `Voice is unavailable: ${(e as Error).message}`
      });
    }
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
      const { module, baseUrl, Device } = await this.backend.load(this.view.mode);
      const call = await module.connect({
        baseUrl,
        Device,
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
