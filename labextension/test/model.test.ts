import { describe, expect, it } from 'vitest';

import { describeEvent } from '../src/model';

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
});
