/**
 * The session as this browser knows it: `GET peerplatform/api/session` + the caller's write
 * permission, kept fresh by the pair server's events (`/api/events/subscribe`, schema
 * `pair-session/v1`) with a slow poll as a safety net. Everything the UI shows reads this.
 */
import { Event } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { canWriteContents, pairApi } from './api';
import { ILockInput, mayEdit, Role } from './lock';
import { IClockJSON, ServerClock } from './timer';

export const EVENT_SCHEMA = 'https://events.peerplatform.dev/pair-session/v1';

export interface ITestCase {
  name: string;
  status: 'pass' | 'fail' | 'error' | string;
  message?: string;
}

export interface ITestResult {
  status: string;
  message?: string;
  passed: number;
  failed: number;
  errors?: number;
  total: number;
  tests?: ITestCase[];
}

export interface IChallenge {
  slug: string;
  title?: string;
  difficulty?: string;
  tags?: string[];
  statement?: string;
  statement_html?: string;
  examples?: unknown[];
  version?: number;
}

export interface ISessionJSON {
  username: string;
  role: Role;
  partner: string;
  can_write: boolean;
  session: {
    id: string;
    state: string;
    driver: string;
    observer: string;
    duration_s: number | null;
    started_at: string | null;
    challenge: IChallenge | null;
    notebook: string;
  };
  clock: IClockJSON;
  swap_request: { by: string; at: string } | null;
  locked: boolean;
  /** false while the pair server cannot reach the platform service (it keeps retrying). */
  connected?: boolean;
  /** What the driver may choose when drawing another challenge ("any" first). */
  difficulties?: string[];
  last_tests: { by: string; final: boolean; result: ITestResult | null } | null;
  final_tests: { result: ITestResult | null; grader: string } | null;
}

export interface ISessionEvent {
  type: string;
  session: string;
  driver?: string;
  observer?: string;
  by?: string;
  data?: any;
}

/** One line of what happened, for the panel's live region. */
export interface INotice {
  text: string;
  at: number;
}

export class SessionModel {
  readonly clock = new ServerClock();
  info: ISessionJSON | null = null;
  /** The server's answer to "may I write contents?" (null: unknown). */
  canWriteContents: boolean | null = null;
  /** Full challenge (statement etc.) of the current session challenge. */
  challenge: IChallenge | null = null;
  tests: { result: ITestResult; final: boolean; by?: string } | null = null;
  error: string | null = null;
  notice: INotice | null = null;
  /** Not a pair server (no session API): the extension stays out of the way. */
  absent = false;
  /**
   * Whether the pair server reaches the platform service. While it does not, the session
   * goes on (the notebook, roles and the clock keep working) and the panel says so.
   */
  platformConnected = true;

  get changed(): ISignal<SessionModel, void> {
    return this._changed;
  }

  /** Emitted once per session event from the server, after the model was refreshed. */
  get eventReceived(): ISignal<SessionModel, ISessionEvent> {
    return this._eventReceived;
  }

  get role(): Role | null {
    return this.info?.role ?? null;
  }

  get ended(): boolean {
    const s = this.info?.session.state;
    return s === 'ended' || s === 'failed';
  }

  get lockInput(): ILockInput {
    return {
      role: this.role,
      canWriteContents: this.canWriteContents,
      locked: !!this.info?.locked,
      state: this.info?.session.state ?? null
    };
  }

  /** May this browser edit and run code now? */
  get editable(): boolean {
    return mayEdit(this.lockInput);
  }

  /** Start following the session (events + poll). */
  start(events: Event.IManager | null, pollMs = 15000): Promise<void> {
    if (events) {
      events.stream.connect(this._onServerEvent, this);
    }
    this._timer = window.setInterval(() => void this.refresh(), pollMs);
    return this.refresh();
  }

  dispose(): void {
    window.clearInterval(this._timer);
  }

  /** Read the session, the permission and (when it changed) the challenge again. */
  async refresh(): Promise<void> {
    // serialize: an older answer must never overwrite a newer one
    const run = this._refreshing.then(() => this._refresh());
    this._refreshing = run.catch(() => undefined);
    return run;
  }

  private async _refresh(): Promise<void> {
    const sent = Date.now();
    let info: ISessionJSON;
    let write: boolean | null;
    try {
      [info, write] = await Promise.all([
        pairApi<ISessionJSON>('session'),
        canWriteContents()
      ]);
    } catch (e: any) {
      if (e?.status === 404 && !this.info) {
        this.absent = true;
      }
      this.error = `Could not read the session: ${e?.message ?? e}`;
      this._changed.emit();
      return;
    }
    const now = Date.now();
    this.absent = false;
    this.error = null;
    this.clock.update(info.clock, now, now - sent);
    const previousSlug = this.info?.session.challenge?.slug;
    this.info = info;
    this.canWriteContents = write;
    if (typeof info.connected === 'boolean') {
      this.platformConnected = info.connected;
    }
    if (info.final_tests?.result) {
      this.tests = { result: info.final_tests.result, final: true };
    } else if (info.last_tests?.result && !this.tests) {
      this.tests = {
        result: info.last_tests.result,
        final: info.last_tests.final,
        by: info.last_tests.by
      };
    }
    const slug = info.session.challenge?.slug;
    if (slug && (slug !== previousSlug || !this.challenge)) {
      try {
        this.challenge = (await pairApi<{ challenge: IChallenge }>('challenge')).challenge;
      } catch (e: any) {
        this.challenge = info.session.challenge;
      }
    }
    this._changed.emit();
  }

  /** Resynchronize the clock only (cheap; the timer calls it now and then). */
  async syncClock(): Promise<void> {
    const sent = Date.now();
    try {
      const clock = await pairApi<IClockJSON>('clock');
      const now = Date.now();
      this.clock.update(clock, now, now - sent);
    } catch {
      // the next refresh will tell
    }
  }

  setNotice(text: string): void {
    this.notice = { text, at: Date.now() };
    this._changed.emit();
  }

  async runTests(): Promise<ITestResult> {
    const r = await pairApi<{ result: ITestResult }>('tests', { method: 'POST', body: '{}' });
    this.tests = { result: r.result, final: false, by: this.info?.username };
    this._changed.emit();
    return r.result;
  }

  async swap(action: 'request' | 'accept' | 'decline' | 'cancel'): Promise<void> {
    await pairApi('swap', { method: 'POST', body: JSON.stringify({ action }) });
    await this.refresh();
  }

  async changeChallenge(difficulty: string | null): Promise<void> {
    const body = difficulty ? { difficulty } : {};
    const r = await pairApi<{ challenge: IChallenge }>('challenge', {
      method: 'POST',
      body: JSON.stringify(body)
    });
    this.challenge = r.challenge;
    await this.refresh();
  }

  private _onServerEvent(_: Event.IManager, emission: Event.Emission): void {
    if (emission.schema_id !== EVENT_SCHEMA) {
      return;
    }
    const event = emission as unknown as ISessionEvent;
    if (this.info && event.session !== this.info.session.id) {
      return;
    }
    if (event.type === 'connection' && typeof event.data?.ok === 'boolean') {
      this.platformConnected = event.data.ok;
    }
    if (event.type === 'tests' && event.data?.result) {
      this.tests = { result: event.data.result, final: !!event.data.final, by: event.by };
    }
    const me = this.info?.username;
    const text = describeEvent(event, me);
    if (text) {
      this.notice = { text, at: Date.now() };
    }
    void this.refresh().then(() => this._eventReceived.emit(event));
  }

  private _changed = new Signal<SessionModel, void>(this);
  private _eventReceived = new Signal<SessionModel, ISessionEvent>(this);
  private _refreshing: Promise<void> = Promise.resolve();
  private _timer = 0;
}

/** What the panel says while the pair server cannot reach the platform service. */
export const RECONNECTING = 'Reconnecting to the platform…';

/** The difficulties the driver may choose when the server does not list them. */
export const DEFAULT_DIFFICULTIES = ['any', 'easy', 'medium', 'hard'];

/** What to tell the learner about an event, in one sentence. */
export function describeEvent(event: ISessionEvent, me?: string): string {
  const who = (name?: string) => (name && name === me ? 'You' : name || 'The platform');
  switch (event.type) {
    case 'started':
      return 'The session has started.';
    case 'phase':
      return 'A new phase of the session has begun.';
    case 'swap':
      return event.driver === me ? 'Roles swapped: you are driving now.' : `Roles swapped: ${event.driver} is driving now.`;
    case 'swap_requested':
      return event.by === me ? 'You asked to swap roles.' : `${who(event.by)} asks to swap roles.`;
    case 'swap_declined':
      return `${who(event.by)} declined the swap.`;
    case 'swap_cancelled':
      return `${who(event.by)} cancelled the swap request.`;
    case 'challenge':
      return 'The challenge was changed.';
    case 'tests': {
      const r = event.data?.result;
      return r ? `${who(event.by)} ran the tests: ${r.passed}/${r.total} passed.` : 'Tests ran.';
    }
    case 'locked':
      return 'Time is up: the notebook is locked.';
    case 'ended':
      return 'The session has ended.';
    case 'kernel':
      // the server's own sentence: why the kernel stopped (memory limit, no sandbox, …)
      return String(event.data?.message ?? 'The kernel stopped.');
    case 'connection':
      return event.data?.ok ? 'Connected to the platform again.' : RECONNECTING;
    default:
      return '';
  }
}
