/**
 * Voice, wired to the pair server's voice module (issue "Voice"): `GET <base>peerplatform/api/voice`
 * says whether voice is available (`{"mode": "twilio"|"webrtc", ...}`), and
 * `<base>peerplatform/static/voice.js` is a plain ES module loaded at run time (not bundled):
 * `connect({baseUrl, onState, onPartnerMute, onError})` → a call with `mute(bool)`,
 * `leave()` and `state` in idle|connecting|connected|failed|ended.
 * While the endpoint answers 404 (no voice on this server) the panel says voice is unavailable.
 */
import { URLExt } from '@jupyterlab/coreutils';

import { ApiError, pairApi, serverBaseUrl } from './api';

export type CallState = 'unavailable' | 'idle' | 'connecting' | 'connected' | 'failed' | 'ended';

export interface IVoiceCall {
  state: string;
  mute(muted: boolean): unknown;
  leave(): unknown;
}

export interface IVoiceView {
  state: CallState;
  mode: string | null;
  muted: boolean;
  partnerMuted: boolean | null;
  /** The partner is in the call (null: not told). */
  partnerPresent: boolean | null;
  message: string;
}

export class Voice {
  constructor(private onChange: () => void) {}

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
      const info = await pairApi<{ mode?: string }>('voice');
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
    if (this._call || this.view.state === 'unavailable') {
      return;
    }
    this._set({ state: 'connecting', message: 'Connecting the call…' });
    try {
      const baseUrl = serverBaseUrl();
      const url = URLExt.join(baseUrl, 'peerplatform/static/voice.js');
      const module: any = await import(/* webpackIgnore: true */ url);
      // Twilio mode needs Twilio's Voice SDK (bundled here, loaded only for Twilio calls)
      const Device =
        this.view.mode === 'twilio' ? (await import('@twilio/voice-sdk')).Device : undefined;
      this._call = await module.connect({
        baseUrl,
        Device,
        onState: (state: string) => this._onState(state),
        onPartnerMute: (muted: boolean) => this._set({ partnerMuted: !!muted }),
        onPartnerPresent: (present: boolean) => this._set({ partnerPresent: !!present }),
        onError: (error: any) =>
          this._set({
            state: 'failed',
            message: `The call could not connect: ${error?.message ?? error}`
          })
      });
      this._onState(this._call?.state ?? 'connecting');
    } catch (e: any) {
      this._call = null;
      this._set({ state: 'failed', message: `The call could not connect: ${e?.message ?? e}` });
    }
  }

  mute(muted: boolean): void {
    if (this._call) {
      this._call.mute(muted);
      this._set({ muted });
    }
  }

  leave(): void {
    if (this._call) {
      try {
        this._call.leave();
      } finally {
        this._call = null;
        this._set({
          state: 'idle',
          muted: false,
          partnerMuted: null,
          partnerPresent: null,
          message: 'You left the call.'
        });
      }
    }
  }

  private _onState(state: string): void {
    const known: CallState[] = ['idle', 'connecting', 'connected', 'failed', 'ended'];
    const s = (known as string[]).includes(state) ? (state as CallState) : 'connecting';
    const messages: Record<string, string> = {
      idle: 'Not in the call.',
      connecting: 'Connecting the call…',
      connected: 'In the call.',
      failed: 'The call could not connect. Check your microphone permission and network, then try again.',
      ended: 'The call ended.'
    };
    if (s === 'failed' || s === 'ended') {
      this._call = null;
    }
    if (s === 'failed' && this.view.state === 'failed') {
      return; // keep the module's own explanation (onError came first)
    }
    this._set({ state: s, message: messages[s] });
  }

  private _set(patch: Partial<IVoiceView>): void {
    this.view = { ...this.view, ...patch };
    this.onChange();
  }

  private _call: IVoiceCall | null = null;
}
