/**
 * The session panel (right sidebar): who drives, the challenge, swaps, the driver's
 * challenge choice, the tests, voice, and the end of the session (rating, back to the lobby).
 * Plain DOM with JupyterLab's theme variables; every control is a labelled native element.
 */
import { Sanitizer } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { lobbyUrl } from './api';
import { DEFAULT_DIFFICULTIES, ITestResult, RECONNECTING, SessionModel } from './model';
import { askRating, RatingOutcome, storedRating } from './rating';
import { Voice } from './voice';

const sanitizer = new Sanitizer();

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') {
      node.className = v;
    } else {
      node.setAttribute(k, v);
    }
  }
  for (const c of children) {
    if (c !== null && c !== undefined) {
      node.append(c);
    }
  }
  return node;
}

function button(key: string, label: string, onClick: () => unknown, cls = ''): HTMLButtonElement {
  const b = el('button', { type: 'button', class: `jp-Button pp-Button ${cls}`, 'data-pp-key': key }, label);
  b.addEventListener('click', () => void onClick());
  return b;
}

export class SessionPanel extends Widget {
  constructor(private model: SessionModel) {
    super();
    this.id = 'peerplatform-session';
    this.addClass('pp-Panel');
    this.title.caption = 'Pair session';
    this.title.label = 'Session';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Pair session');
    this.node.tabIndex = -1;
    this.voice = new Voice(() => this.render());
    this._live = el('div', { class: 'pp-Panel-notice', 'aria-live': 'polite', role: 'status' });
    this._body = el('div', { class: 'pp-Panel-body' });
    this.node.append(this._live, this._body);
    model.changed.connect(() => this.render());
    void this.voice.probe();
    this.render();
  }

  readonly voice: Voice;
  rating: { state: 'none' | 'asking' | RatingOutcome['kind']; message: string } = {
    state: 'none',
    message: ''
  };

  render(): void {
    const m = this.model;
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.ppKey;
    const notice = m.notice?.text ?? '';
    if (this._live.textContent !== notice) {
      this._live.textContent = notice;
    }
    this._body.replaceChildren(...this._sections());
    if (focused) {
      this._body.querySelector<HTMLElement>(`[data-pp-key="${focused}"]`)?.focus();
    }
  }

  private _sections(): Node[] {
    const m = this.model;
    if (m.absent) {
      return [el('p', {}, 'No pair session runs on this server.')];
    }
    if (!m.info) {
      return [el('p', {}, m.error ?? 'Loading the session…')];
    }
    return [
      this._roleSection(),
      m.platformConnected
        ? null
        : el('p', { class: 'pp-Reconnecting pp-muted', role: 'status', 'data-pp-state': 'reconnecting' }, RECONNECTING),
      m.error ? el('p', { class: 'pp-error', role: 'alert' }, m.error) : null,
      this._challengeSection(),
      this._swapSection(),
      this._testsSection(),
      this._voiceSection(),
      this._endSection()
    ].filter((n): n is HTMLElement => !!n);
  }

  private _roleSection(): HTMLElement {
    const info = this.model.info!;
    const driving = info.role === 'driver';
    const ended = this.model.ended || info.locked;
    const badge = el(
      'div',
      {
        class: `pp-RoleBadge ${driving ? 'pp-mod-driver' : 'pp-mod-observer'}`,
        'data-role': info.role
      },
      driving ? 'You are driving' : 'You are observing'
    );
    const partner = el(
      'p',
      { class: 'pp-Partner' },
      driving ? `${info.partner} is observing.` : `${info.partner} is driving.`
    );
    const state = el(
      'p',
      { class: 'pp-Lock' },
      ended
        ? 'The session is over: the notebook is read-only.'
        : this.model.editable
          ? 'You can edit and run code.'
          : 'The notebook is read-only for you; you can follow, scroll and talk.'
    );
    return el('section', { class: 'pp-Section', 'aria-label': 'Roles' }, badge, partner, state);
  }

  private _challengeSection(): HTMLElement | null {
    const c = this.model.challenge ?? this.model.info?.session.challenge;
    if (!c) {
      return el('section', { class: 'pp-Section' }, el('p', {}, 'No challenge yet.'));
    }
    const tags = el('ul', { class: 'pp-Tags', 'aria-label': 'Tags' });
    for (const t of c.tags ?? []) {
      tags.append(el('li', { class: 'pp-Tag' }, String(t)));
    }
    const statement = el('div', { class: 'pp-Statement jp-RenderedHTMLCommon' });
    if (c.statement_html) {
      // sanitized by the server (nh3) and again here
      statement.innerHTML = sanitizer.sanitize(c.statement_html);
    } else if (c.statement) {
      statement.textContent = c.statement;
    }
    const examples = el('div', { class: 'pp-Examples' });
    (c.examples ?? []).forEach((ex, i) => {
      const text =
        typeof ex === 'string'
          ? ex
          : Object.entries(ex as Record<string, unknown>)
              .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join('\n');
      examples.append(el('h4', {}, `Example ${i + 1}`), el('pre', {}, text));
    });
    const section = el(
      'section',
      { class: 'pp-Section pp-Challenge', 'aria-labelledby': 'pp-challenge-title' },
      el('h2', { id: 'pp-challenge-title', class: 'pp-Challenge-title' }, c.title ?? c.slug),
      el(
        'p',
        { class: 'pp-Meta' },
        el('span', { class: `pp-Difficulty pp-mod-${c.difficulty ?? 'unrated'}` }, c.difficulty ?? 'unrated'),
        tags
      ),
      statement,
      examples
    );
    if (this.model.editable) {
      section.append(this._changeChallenge(c.difficulty ?? 'any'));
    }
    return section;
  }

  private _changeChallenge(current: string): HTMLElement {
    const select = el('select', { id: 'pp-difficulty', 'data-pp-key': 'difficulty' });
    const choices = this.model.info?.difficulties ?? DEFAULT_DIFFICULTIES;
    for (const d of ['same', ...choices]) {
      const o = el('option', { value: d }, d === 'same' ? `same (${current})` : d);
      select.append(o);
    }
    select.value = this._difficulty;
    select.addEventListener('change', () => (this._difficulty = select.value));
    const go = button('another-challenge', 'Another challenge', async () => {
      const d = select.value === 'same' ? null : select.value;
      go.disabled = true;
      try {
        await this.model.changeChallenge(d);
        this.model.setNotice('New challenge placed in the notebook.');
      } catch (e: any) {
        this.model.setNotice(`Could not change the challenge: ${e.message}`);
      }
    });
    return el(
      'div',
      { class: 'pp-Row pp-ChangeChallenge' },
      el('label', { for: 'pp-difficulty' }, 'Difficulty'),
      select,
      go
    );
  }

  private _swapSection(): HTMLElement | null {
    const info = this.model.info!;
    if (this.model.ended || info.locked || info.session.state !== 'active') {
      return null;
    }
    const req = info.swap_request;
    const act = (action: 'request' | 'accept' | 'decline' | 'cancel') => async () => {
      try {
        await this.model.swap(action);
      } catch (e: any) {
        this.model.setNotice(`Swap: ${e.message}`);
      }
    };
    const section = el('section', { class: 'pp-Section pp-Swap', 'aria-label': 'Role swap' });
    if (!req) {
      section.append(button('swap-request', 'Ask to swap roles', act('request')));
    } else if (req.by === info.username) {
      section.append(
        el('p', {}, `Waiting for ${info.partner} to accept the swap…`),
        button('swap-cancel', 'Cancel request', act('cancel'))
      );
    } else {
      section.append(
        el('p', {}, `${req.by} asks to swap roles.`),
        el(
          'div',
          { class: 'pp-Row' },
          button('swap-accept', 'Accept swap', act('accept'), 'pp-mod-accept'),
          button('swap-decline', 'Decline', act('decline'))
        )
      );
    }
    return section;
  }

  private _testsSection(): HTMLElement {
    const section = el('section', { class: 'pp-Section pp-Tests', 'aria-label': 'Tests' });
    section.append(el('h3', {}, 'Tests'));
    if (this.model.editable) {
      const run = button('run-tests', this._running ? 'Running tests…' : 'Run tests', async () => {
        this._running = true;
        this.render();
        try {
          await this.model.runTests();
        } catch (e: any) {
          this.model.setNotice(`Tests: ${e.message}`);
        } finally {
          this._running = false;
          this.render();
        }
      });
      run.disabled = this._running;
      section.append(run);
    }
    section.append(gradingRule());
    const t = this.model.tests;
    if (!t) {
      section.append(el('p', { class: 'pp-muted' }, 'No test run yet.'));
      return section;
    }
    section.append(this._results(t.result, t.final));
    return section;
  }

  private _results(r: ITestResult, final: boolean): HTMLElement {
    const summary = el(
      'p',
      { class: `pp-TestSummary pp-mod-${r.status}`, 'data-status': r.status },
      `${final ? 'Final result' : 'Result'}: ${r.passed}/${r.total} passed` +
        (r.status === 'error' && r.message ? ` — ${r.message}` : '')
    );
    const list = el('ul', { class: 'pp-TestList', 'aria-label': 'Test results' });
    for (const test of r.tests ?? []) {
      const icon = test.status === 'pass' ? '✔' : test.status === 'fail' ? '✘' : '⚠';
      list.append(
        el(
          'li',
          { class: `pp-Test pp-mod-${test.status}`, 'data-status': test.status },
          el('span', { 'aria-hidden': 'true' }, icon + ' '),
          el('span', { class: 'pp-Test-name' }, test.name),
          el('span', { class: 'pp-visually-hidden' }, ` ${test.status}`),
          test.message ? el('pre', { class: 'pp-Test-message' }, test.message) : null
        )
      );
    }
    return el('div', { class: 'pp-Results' }, summary, list);
  }

  private _voiceSection(): HTMLElement {
    const v = this.voice.view;
    const section = el('section', { class: 'pp-Section pp-Voice', 'aria-label': 'Voice' });
    section.append(el('h3', {}, 'Voice'));
    section.append(
      el('p', { class: `pp-VoiceState pp-mod-${v.state}`, 'data-state': v.state, role: v.state === 'failed' ? 'alert' : 'status' }, v.message)
    );
    const row = el('div', { class: 'pp-Row' });
    if (v.state === 'idle' || v.state === 'failed' || v.state === 'ended') {
      row.append(button('voice-join', v.state === 'idle' ? 'Join call' : 'Try again', () => this.voice.join()));
    }
    if (v.state === 'connecting' || v.state === 'connected') {
      const mute = button('voice-mute', v.muted ? 'Unmute' : 'Mute', () => this.voice.mute(!v.muted));
      mute.setAttribute('aria-pressed', String(v.muted));
      row.append(mute, button('voice-leave', 'Leave call', () => this.voice.leave()));
    }
    section.append(row);
    const partner = this.model.info!.partner;
    if (v.state === 'connecting' && v.partnerPresent === false) {
      section.append(el('p', { class: 'pp-muted' }, `Waiting for ${partner} to join the call…`));
    }
    if (v.partnerMuted !== null && v.state === 'connected') {
      section.append(
        el('p', { class: 'pp-muted' }, `${partner} is ${v.partnerMuted ? 'muted' : 'unmuted'}.`)
      );
    }
    return section;
  }

  private _endSection(): HTMLElement | null {
    if (!this.model.ended) {
      return null;
    }
    const info = this.model.info!;
    const section = el('section', { class: 'pp-Section pp-End', 'aria-label': 'End of session' });
    section.append(el('h3', {}, 'Session over'));
    const r = this.rating;
    const texts: Record<string, string> = {
      none: '',
      asking: 'Rating your partner…',
      stored: 'Thank you: your rating is stored.',
      already: 'You have already rated this session.',
      skipped: 'You skipped the rating.',
      error: `Your rating could not be stored: ${r.message}`
    };
    if (texts[r.state]) {
      section.append(
        el('p', { class: `pp-RatingState pp-mod-${r.state}`, 'data-state': r.state, role: r.state === 'error' ? 'alert' : 'status' }, texts[r.state])
      );
    }
    if (r.state === 'none' || r.state === 'skipped' || r.state === 'error') {
      section.append(button('rate', `Rate ${info.partner}`, () => this.askRating()));
    }
    const link = el('a', { href: lobbyUrl(), class: 'pp-LobbyLink', 'data-pp-key': 'lobby' }, 'Back to the lobby');
    section.append(el('p', {}, link));
    return section;
  }

  /** Show the rating dialog once the session ended (once per page, unless asked again). */
  async askRating(): Promise<void> {
    const info = this.model.info;
    if (!info || this.rating.state === 'asking') {
      return;
    }
    this.rating = { state: 'asking', message: '' };
    this.render();
    const outcome = await askRating(info.session.id, info.partner);
    this.rating = {
      state: outcome.kind,
      message: outcome.kind === 'error' || outcome.kind === 'already' ? outcome.message : ''
    };
    this.render();
  }

  /** At the end: ask for the rating unless this learner already gave it. */
  async onEnded(): Promise<void> {
    if (this._endHandled || !this.model.info) {
      return;
    }
    this._endHandled = true;
    this.voice.leave();
    try {
      if (await storedRating(this.model.info.session.id)) {
        this.rating = { state: 'already', message: '' };
        this.render();
        return;
      }
    } catch {
      // the dialog will say what goes wrong when it posts
    }
    await this.askRating();
  }

  private _live: HTMLDivElement;
  private _body: HTMLDivElement;
  private _difficulty = 'same';
  private _running = false;
  private _endHandled = false;
}

/**
 * Which cells the hidden tests grade: the rule the service applies
 * (peerplatform_grader/notebook.py), stated where the driver runs the tests.
 */
export const GRADING_RULE =
  'Graded: every code cell, top to bottom, in one namespace (like "Restart and run all"), ' +
  'the starter cell included. Left out: markdown cells, cells tagged skip-grading, and cells ' +
  'that start with a %% cell magic; %magic and !shell lines are skipped. A cell that raises ' +
  'is reported and the next cells still run.';

function gradingRule(): HTMLElement {
  return el(
    'details',
    { class: 'pp-GradingRule' },
    el('summary', {}, 'What is graded?'),
    el('p', { class: 'pp-muted' }, GRADING_RULE)
  );
}
