import { describe, expect, it } from 'vitest';
import { ApiError } from '../src/api';
import { Voice, type IConnectOptions, type IVoiceBackend, type IVoiceInfo } from '../src/voice';

/**
 * The pair server as it answers since the service owns the call: its voice endpoint names no
 * mode (`{"session", "service_url", "signal_url"}`); the service's description does.
 */
class SplitBackend implements IVoiceBackend {
  pairServer: IVoiceInfo | ApiError = { mode: undefined };
  service: IVoiceInfo | Error = { mode: 'twilio' };
  described = 0;
  loaded: (string | null)[] = [];
  connects: IConnectOptions[] = [];
  readonly xsrf = async () => 'service-xsrf';

  async info() {
    if (this.pairServer instanceof Error) {
      throw this.pairServer;
    }
    return this.pairServer;
  }

  async describe() {
    this.described++;
    if (this.service instanceof Error) {
      throw this.service;
    }
    return this.service;
  }

  async load(mode: string | null) {
    this.loaded.push(mode);
    return {
      baseUrl: '/user/pp-pairs/s-abc/',
      serviceXsrf: this.xsrf,
      module: {
        connect: async (options: IConnectOptions) => {
          this.connects.push(options);
          return { state: 'connecting', mute: () => undefined, leave: () => undefined };
        }
      }
    };
  }
}

describe('Voice mode', () => {
  it("names the call with the service's mode and loads for it", async () => {
    const backend = new SplitBackend();
    const voice = new Voice(() => undefined, backend);
    await voice.probe();
    expect(voice.view).toMatchObject({ state: 'idle', mode: 'twilio', message: 'Voice call (Twilio)' });
    backend.service = { mode: 'webrtc' };
    const webrtc = new Voice(() => undefined, backend);
    await webrtc.probe();
    expect(webrtc.view.message).toBe('Voice call (WebRTC)');
    await voice.join();
    expect(backend.loaded).toEqual(['twilio']);
  });

  it("passes the service's XSRF token to connect()", async () => {
    const backend = new SplitBackend();
    const voice = new Voice(() => undefined, backend);
    await voice.probe();
    await voice.join();
    expect(backend.connects).toHaveLength(1);
    expect(await backend.connects[0].serviceXsrf?.()).toBe('service-xsrf');
  });

  it('lets the learner join when the service cannot say the mode yet', async () => {
    const backend = new SplitBackend();
    backend.service = new Error('voice is unavailable (502): Bad Gateway');
    const voice = new Voice(() => undefined, backend);
    await voice.probe();
    expect(voice.view).toMatchObject({ state: 'idle', mode: null, message: 'Voice call' });
    await voice.join();
    expect(backend.loaded).toEqual([null]);
    expect(voice.view.state).toBe('connecting');
  });

  it('asks the service nothing when the pair server has no voice', async () => {
    const backend = new SplitBackend();
    backend.pairServer = new ApiError(404, 'not found');
    const voice = new Voice(() => undefined, backend);
    await voice.probe();
    expect(voice.view).toMatchObject({
      state: 'unavailable',
      message: 'Voice is unavailable on this server.'
    });
    expect(backend.described).toBe(0);
  });

  it('does not rename a call the learner already started', async () => {
    const backend = new SplitBackend();
    let answer: (info: IVoiceInfo) => void = () => undefined;
    backend.describe = () => new Promise<IVoiceInfo>(resolve => (answer = resolve));
    const voice = new Voice(() => undefined, backend);
    const probing = voice.probe();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(voice.view).toMatchObject({ state: 'idle', message: 'Voice call' });
    await voice.join();
    answer({ mode: 'webrtc' });
    await probing;
    expect(voice.view).toMatchObject({ state: 'connecting', mode: 'webrtc' });
    expect(voice.view.message).toBe('Connecting the call…');
  });
});
