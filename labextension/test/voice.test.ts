import { describe, expect, it } from 'vitest';
import { Voice, type IConnectOptions, type IVoiceBackend, type IVoiceCall } from '../src/voice';

/** A voice module that hands out calls the test drives through their connect() options. */
class FakeVoice implements IVoiceBackend {
  connects: IConnectOptions[] = [];
  calls: (IVoiceCall & { log: string[] })[] = [];
  refuse: Error | null = null;

  async info() {
    return { mode: 'webrtc' };
  }

  async load() {
    return {
      baseUrl: '/user/pp-pairs/s-abc/',
      module: {
        connect: async (options: IConnectOptions) => {
          this.connects.push(options);
          if (this.refuse) {
            options.onError(this.refuse);
            throw this.refuse;
          }
          const log: string[] = [];
          const call = {
            state: 'connecting',
            log,
            mute: (m: boolean) => log.push(`mute ${m}`),
            leave: () => log.push('leave')
          };
          this.calls.push(call);
          return call;
        }
      }
    };
  }

  /** The options of the latest connect() (the module's side of the current call). */
  get last(): IConnectOptions {
    return this.connects[this.connects.length - 1];
  }
}

async function connected(): Promise<{ voice: Voice; fake: FakeVoice }> {
  const fake = new FakeVoice();
  const voice = new Voice(() => undefined, fake);
  await voice.probe();
  await voice.join();
  fake.last.onState('connected');
  expect(voice.view.state).toBe('connected');
  return { voice, fake };
}

describe('Voice', () => {
  it('keeps the call and its controls through a non-fatal error', async () => {
    const { voice, fake } = await connected();
    fake.last.onError(new Error("voice: could not renew the call's token: 503"));
    expect(voice.view.state).toBe('connected');
    expect(voice.view.message).toContain("could not renew the call's token");
    voice.mute(true);
    expect(fake.calls[0].log).toEqual(['mute true']);
    expect(voice.view.muted).toBe(true);
    voice.leave();
    expect(fake.calls[0].log).toEqual(['mute true', 'leave']);
    expect(voice.view.state).toBe('idle');
  });

  it('does not join twice while a call is up, even after an error', async () => {
    const { voice, fake } = await connected();
    fake.last.onError(new Error('voice: device error 31005'));
    await voice.join();
    expect(fake.connects).toHaveLength(1);
  });

  it('shows the call again when it reconnects after an error', async () => {
    const { voice, fake } = await connected();
    fake.last.onError(new Error('voice: device error 31005'));
    fake.last.onState('connecting');
    expect(voice.view.state).toBe('connecting');
    fake.last.onState('connected');
    expect(voice.view.state).toBe('connected');
    expect(voice.view.message).toBe('In the call.');
    voice.mute(true);
    expect(fake.calls[0].log).toEqual(['mute true']);
  });

  it("says why a call failed (the module's reason) and joins again on Try again", async () => {
    const fake = new FakeVoice();
    const voice = new Voice(() => undefined, fake);
    await voice.probe();
    await voice.join();
    fake.last.onError(new Error('voice: the call could not reach your partner (network)'));
    fake.last.onState('failed');
    expect(voice.view.state).toBe('failed');
    expect(voice.view.message).toBe(
      'The call could not connect: the call could not reach your partner (network)'
    );
    voice.mute(true); // no call any more: nothing to mute
    expect(fake.calls[0].log).toEqual([]);
    await voice.join();
    expect(fake.connects).toHaveLength(2);
    expect(voice.view.state).toBe('connecting');
    fake.last.onState('connected');
    expect(voice.view.state).toBe('connected');
  });

  it('tells a lost call from one that never connected', async () => {
    const { voice, fake } = await connected();
    fake.last.onError(new Error('the voice connection was lost (1006)'));
    fake.last.onState('failed');
    expect(voice.view.message).toBe('The call was lost: the voice connection was lost (1006)');
  });

  it('ignores a failed call once the learner joined again', async () => {
    const fake = new FakeVoice();
    const voice = new Voice(() => undefined, fake);
    await voice.probe();
    await voice.join();
    const first = fake.last;
    first.onState('failed');
    await voice.join();
    fake.last.onState('connected');
    first.onError(new Error('late news from the first call'));
    first.onState('ended');
    expect(voice.view.state).toBe('connected');
    expect(voice.view.message).toBe('In the call.');
  });

  it('reports a refused connect and lets the learner try again', async () => {
    const fake = new FakeVoice();
    const voice = new Voice(() => undefined, fake);
    await voice.probe();
    fake.refuse = new Error('voice is unavailable (409): the session is not running');
    await voice.join();
    expect(voice.view.state).toBe('failed');
    expect(voice.view.message).toBe(
      'The call could not connect: voice is unavailable (409): the session is not running'
    );
    fake.refuse = null;
    await voice.join();
    fake.last.onState('connected');
    expect(voice.view.state).toBe('connected');
  });

  it('ends an ended call and leaves a call left while connecting', async () => {
    const { voice, fake } = await connected();
    fake.last.onState('ended');
    expect(voice.view.state).toBe('ended');
    const fake2 = new FakeVoice();
    const voice2 = new Voice(() => undefined, fake2);
    await voice2.probe();
    const joining = voice2.join();
    voice2.leave(); // before connect() resolved
    await joining;
    expect(voice2.view.state).toBe('idle');
    expect(fake2.calls[0].log).toEqual(['leave']);
    expect(fake.connects).toHaveLength(1);
  });
});
