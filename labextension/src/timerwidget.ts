/**
 * The top-bar timer: the server's countdown with the phase, a warning near the end, and the
 * next swap. Ticks locally; resynchronizes with the server now and then and on every event.
 */
import { Widget } from '@lumino/widgets';

import { SessionModel } from './model';
import { formatSeconds } from './timer';

export class TimerWidget extends Widget {
  constructor(private model: SessionModel) {
    super();
    this.id = 'peerplatform-timer';
    this.addClass('pp-Timer');
    this.node.setAttribute('role', 'timer');
    this.node.setAttribute('aria-label', 'Session time remaining');
    this.node.title = 'Time left in the session (the server keeps the time)';
    this._phase = document.createElement('span');
    this._phase.className = 'pp-Timer-phase';
    this._time = document.createElement('span');
    this._time.className = 'pp-Timer-time';
    this._next = document.createElement('span');
    this._next.className = 'pp-Timer-next';
    // phase changes and warnings are announced; the ticking seconds are not
    this._live = document.createElement('span');
    this._live.className = 'pp-visually-hidden';
    this._live.setAttribute('aria-live', 'polite');
    this.node.append(this._phase, this._time, this._next, this._live);
    model.changed.connect(() => this.tick());
    this._interval = window.setInterval(() => this.tick(), 500);
    this._sync = window.setInterval(() => void model.syncClock(), 30000);
  }

  tick(): void {
    const v = this.model.clock.view(Date.now());
    this._phase.textContent = v.label;
    this._time.textContent = v.text;
    this._next.textContent =
      v.nextSwapIn !== null ? `swap in ${formatSeconds(v.nextSwapIn)}` : '';
    this.node.dataset.phase = v.phase;
    this.toggleClass('pp-mod-warning', v.warning);
    this.toggleClass('pp-mod-over', v.over);
    const announce = v.over
      ? 'Time is up.'
      : v.warning
        ? `Less than ${formatSeconds(v.remaining ?? 0)} left.`
        : `${v.label} phase.`;
    const key = `${v.phase}|${v.warning}|${v.over}`;
    if (key !== this._announced) {
      this._announced = key;
      this._live.textContent = announce;
    }
  }

  dispose(): void {
    window.clearInterval(this._interval);
    window.clearInterval(this._sync);
    super.dispose();
  }

  private _phase: HTMLSpanElement;
  private _time: HTMLSpanElement;
  private _next: HTMLSpanElement;
  private _live: HTMLSpanElement;
  private _interval: number;
  private _sync: number;
  private _announced = '';
}
