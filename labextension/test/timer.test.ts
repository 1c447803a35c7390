import { describe, expect, it } from 'vitest';
import { formatSeconds, phaseName, ServerClock, warningThreshold } from '../src/timer';

const START = Date.parse('2026-01-01T10:00:00Z');
function clockAt(serverNowMs: number, duration = 600, swaps: number[] = [300]) {
  return {
    server_time: new Date(serverNowMs).toISOString(),
    started_at: new Date(START).toISOString(),
    ends_at: new Date(START + duration * 1000).toISOString(),
    duration_s: duration,
    remaining_s: (START + duration * 1000 - serverNowMs) / 1000,
    swaps_at: swaps.map(s => new Date(START + s * 1000).toISOString()),
    over: serverNowMs >= START + duration * 1000
  };
}

describe('formatSeconds', () => {
  it('formats minutes and hours and rounds up', () => {
    expect(formatSeconds(0)).toBe('0:00');
    expect(formatSeconds(0.2)).toBe('0:01');
    expect(formatSeconds(59)).toBe('0:59');
    expect(formatSeconds(61)).toBe('1:01');
    expect(formatSeconds(3600)).toBe('1:00:00');
    expect(formatSeconds(3725)).toBe('1:02:05');
    expect(formatSeconds(-5)).toBe('0:00');
  });
});

describe('phaseName', () => {
  it('splits the session into discuss, code and review', () => {
    expect(phaseName(null, null, false)).toBe('waiting');
    expect(phaseName(0, 600, false)).toBe('discuss');
    expect(phaseName(59, 600, false)).toBe('discuss');
    expect(phaseName(60, 600, false)).toBe('code');
    expect(phaseName(509, 600, false)).toBe('code');
    expect(phaseName(510, 600, false)).toBe('review');
    expect(phaseName(600, 600, false)).toBe('over');
    expect(phaseName(10, 600, true)).toBe('over');
  });
});

describe('warningThreshold', () => {
  it('is 10% of the session, between 10 s and 5 min', () => {
    expect(warningThreshold(30)).toBe(10);
    expect(warningThreshold(600)).toBe(60);
    expect(warningThreshold(7200)).toBe(300);
  });
});

describe('ServerClock', () => {
  it('counts down from the server time, whatever the local clock says', () => {
    const c = new ServerClock();
    const localSkew = -3_600_000; // the browser's clock is an hour behind
    const serverNow = START + 100_000;
    c.update(clockAt(serverNow), serverNow + localSkew);
    const v = c.view(serverNow + localSkew + 5_000);
    expect(v.remaining).toBeCloseTo(495, 3);
    expect(v.text).toBe('8:15');
    expect(v.phase).toBe('code');
    expect(v.warning).toBe(false);
    expect(v.nextSwapIn).toBeCloseTo(195, 3);
  });

  it('corrects for half the round trip', () => {
    const c = new ServerClock();
    const serverNow = START + 100_000;
    c.update(clockAt(serverNow), serverNow + 400, 400);
    expect(c.view(serverNow + 400).remaining).toBeCloseTo(499.8, 3);
  });

  it('gives the same time after a reload (a new clock from the same server)', () => {
    const a = new ServerClock();
    const serverNow = START + 200_000;
    a.update(clockAt(serverNow), 1_000);
    const b = new ServerClock(); // the reloaded page: another local epoch
    b.update(clockAt(serverNow + 30_000), 9_000_000);
    expect(b.view(9_000_000).remaining).toBeCloseTo(a.view(31_000).remaining!, 3);
  });

  it('warns near the end, and says when time is up', () => {
    const c = new ServerClock();
    const near = START + 545_000;
    c.update(clockAt(near), near);
    const v = c.view(near);
    expect(v.warning).toBe(true);
    expect(v.phase).toBe('review');
    expect(v.nextSwapIn).toBeNull();
    const after = c.view(near + 60_000);
    expect(after.over).toBe(true);
    expect(after.remaining).toBe(0);
    expect(after.text).toBe('0:00');
    expect(after.warning).toBe(false);
    expect(after.label).toBe('Time is up');
  });

  it('shows no time before the session started', () => {
    const c = new ServerClock();
    c.update({ server_time: new Date(START).toISOString(), started_at: null, remaining_s: null }, 0);
    const v = c.view(0);
    expect(v.remaining).toBeNull();
    expect(v.text).toBe('--:--');
    expect(v.phase).toBe('waiting');
  });
});
