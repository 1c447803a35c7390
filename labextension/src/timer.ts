/**
 * The session clock as the learners see it: pure arithmetic, no DOM (unit-tested).
 *
 * The pair server owns the clock (`GET peerplatform/api/clock`); the browser only keeps the
 * offset between its own clock and the server's, so a wrong local clock or a page reload
 * never changes the time shown.
 */

/** `GET peerplatform/api/clock` (and the `data` of `started`/`phase`/`locked` events). */
export interface IClockJSON {
  server_time: string;
  started_at: string | null;
  ends_at?: string;
  duration_s?: number;
  elapsed_s?: number;
  remaining_s: number | null;
  phase?: number;
  swaps_at?: string[];
  next_swap_at?: string | null;
  over?: boolean;
  locked?: boolean;
  state?: string | null;
}

export type PhaseName = 'waiting' | 'discuss' | 'code' | 'review' | 'over';

/** How a session is split into phases, as fractions of its duration. */
export interface IPhasePlan {
  /** The first part: read the challenge and agree on an approach. */
  discuss: number;
  /** The last part: review the code together, run the tests. */
  review: number;
}

export const DEFAULT_PLAN: IPhasePlan = { discuss: 0.1, review: 0.15 };

export const PHASE_LABELS: Record<PhaseName, string> = {
  waiting: 'Waiting to start',
  discuss: 'Discuss',
  code: 'Code',
  review: 'Review',
  over: 'Time is up'
};

/** The phase at `elapsed` seconds of a `duration`-second session. */
export function phaseName(
  elapsed: number | null,
  duration: number | null,
  over: boolean,
  plan: IPhasePlan = DEFAULT_PLAN
): PhaseName {
  if (over) {
    return 'over';
  }
  if (elapsed === null || duration === null || !(duration > 0)) {
    return 'waiting';
  }
  if (elapsed >= duration) {
    return 'over';
  }
  if (elapsed < duration * plan.discuss) {
    return 'discuss';
  }
  if (elapsed >= duration * (1 - plan.review)) {
    return 'review';
  }
  return 'code';
}

/** Seconds before the end from which the timer warns: 10 % of the session, 10 s to 5 min. */
export function warningThreshold(duration: number): number {
  return Math.min(300, Math.max(10, duration * 0.1));
}

/** `mm:ss`, or `h:mm:ss` from an hour; never negative; rounds up (0:00 only at the end). */
export function formatSeconds(seconds: number): string {
  const total = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  if (h > 0) {
    return `${h}:${String(m).padStart(2, '0')}:${ss}`;
  }
  return `${m}:${ss}`;
}

export interface ITimerView {
  /** Remaining seconds (null before the start). */
  remaining: number | null;
  text: string;
  phase: PhaseName;
  label: string;
  warning: boolean;
  over: boolean;
  /** Seconds until the next scheduled role swap, if one is coming. */
  nextSwapIn: number | null;
}

/**
 * The server's clock, as seen from this browser.
 *
 * `update()` takes a clock the server sent and the local time it arrived (and, for a
 * request, how long the round trip took); `view()` computes what to show at a local time.
 */
export class ServerClock {
  constructor(plan: IPhasePlan = DEFAULT_PLAN) {
    this.plan = plan;
  }

  /** Server time minus local time, in ms. */
  offsetMs = 0;
  clock: IClockJSON | null = null;
  readonly plan: IPhasePlan;

  update(clock: IClockJSON, receivedAtMs: number, roundTripMs = 0): void {
    const server = Date.parse(clock.server_time);
    if (!Number.isNaN(server)) {
      // the server read its clock about half a round trip before we received it
      this.offsetMs = server + roundTripMs / 2 - receivedAtMs;
    }
    this.clock = clock;
  }

  /** The server's time now, in ms since the epoch. */
  serverNow(localNowMs: number): number {
    return localNowMs + this.offsetMs;
  }

  view(localNowMs: number): ITimerView {
    const c = this.clock;
    const endsAt = c?.ends_at ? Date.parse(c.ends_at) : NaN;
    const startedAt = c?.started_at ? Date.parse(c.started_at) : NaN;
    const duration = c?.duration_s ?? null;
    if (!c || Number.isNaN(endsAt) || Number.isNaN(startedAt) || duration === null) {
      const over = !!c?.over;
      return {
        remaining: null,
        text: over ? formatSeconds(0) : '--:--',
        phase: over ? 'over' : 'waiting',
        label: PHASE_LABELS[over ? 'over' : 'waiting'],
        warning: false,
        over,
        nextSwapIn: null
      };
    }
    const now = this.serverNow(localNowMs);
    const remaining = Math.max(0, (endsAt - now) / 1000);
    const elapsed = Math.min(duration, Math.max(0, (now - startedAt) / 1000));
    const over = !!c.over || remaining <= 0;
    const phase = phaseName(elapsed, duration, over, this.plan);
    const upcoming = (c.swaps_at ?? [])
      .map(s => Date.parse(s))
      .filter(t => !Number.isNaN(t) && t > now && t < endsAt);
    return {
      remaining,
      text: formatSeconds(remaining),
      phase,
      label: PHASE_LABELS[phase],
      warning: !over && remaining <= warningThreshold(duration),
      over,
      nextSwapIn: upcoming.length && !over ? (Math.min(...upcoming) - now) / 1000 : null
    };
  }
}
