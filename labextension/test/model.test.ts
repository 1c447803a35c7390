import { describe, expect, it } from 'vitest';

import { describeEvent, RECONNECTING } from '../src/model';

describe('describeEvent', () => {
  it("shows the server's own sentence when the kernel stops or cannot start", () => {
    const message =
      'The kernel was stopped: the code used more than 1024 MiB of memory. It restarts empty: run the cells again.';
    expect(describeEvent({ type: 'kernel', session: 's1', data: { reason: 'memory', message } } as any, 'ann')).toBe(
      message
    );
  });

  it('has a fallback when a kernel event carries no message', () => {
    expect(describeEvent({ type: 'kernel', session: 's1' } as any)).toBe('The kernel stopped.');
  });

  it('says "reconnecting" while the pair server cannot reach the platform, and when it is back', () => {
    expect(RECONNECTING).toBe('Reconnecting to the platform…');
    expect(describeEvent({ type: 'connection', session: 's1', data: { ok: false } }, 'ann')).toBe(
      'Reconnecting to the platform…'
    );
    expect(describeEvent({ type: 'connection', session: 's1', data: { ok: true } }, 'ann')).toBe(
      'Connected to the platform again.'
    );
  });
});
