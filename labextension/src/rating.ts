/**
 * The end-of-session rating of the partner: communication, collaboration and problem
 * solving (1–5) and an optional comment, posted to the platform service
 * (`POST services/peerplatform/api/sessions/<id>/rating`).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { ApiError, platformApi } from './api';

export const CRITERIA = [
  ['communication', 'Communication'],
  ['collaboration', 'Collaboration'],
  ['problem_solving', 'Problem solving']
] as const;
export const MAX_COMMENT = 1000;

export type Criterion = (typeof CRITERIA)[number][0];
export type IRating = Record<Criterion, number> & { comment?: string };

/** The form inside the dialog: three radio groups (fieldsets with legends) and a comment. */
export class RatingForm extends Widget {
  constructor(partner: string) {
    super();
    this.addClass('pp-RatingForm');
    const intro = document.createElement('p');
    intro.textContent = `How was working with ${partner}? 1 = poor, 5 = excellent.`;
    this.node.append(intro);
    for (const [key, label] of CRITERIA) {
      const fieldset = document.createElement('fieldset');
      fieldset.className = 'pp-RatingForm-criterion';
      const legend = document.createElement('legend');
      legend.textContent = label;
      fieldset.append(legend);
      for (let score = 1; score <= 5; score++) {
        const id = `pp-rating-${key}-${score}`;
        const input = document.createElement('input');
        input.type = 'radio';
        input.name = `pp-rating-${key}`;
        input.value = String(score);
        input.id = id;
        input.addEventListener('change', () => this._check());
        const lab = document.createElement('label');
        lab.htmlFor = id;
        lab.textContent = String(score);
        lab.title = `${label}: ${score} of 5`;
        fieldset.append(input, lab);
      }
      this.node.append(fieldset);
    }
    const commentLabel = document.createElement('label');
    commentLabel.htmlFor = 'pp-rating-comment';
    commentLabel.textContent = 'Comment (optional)';
    const comment = document.createElement('textarea');
    comment.id = 'pp-rating-comment';
    comment.maxLength = MAX_COMMENT;
    comment.rows = 3;
    this.node.append(commentLabel, comment);
  }

  /** The rating, or null while a criterion has no score. */
  getValue(): IRating | null {
    const out: any = {};
    for (const [key] of CRITERIA) {
      const checked = this.node.querySelector<HTMLInputElement>(
        `input[name="pp-rating-${key}"]:checked`
      );
      if (!checked) {
        return null;
      }
      out[key] = parseInt(checked.value, 10);
    }
    const comment = this.node.querySelector('textarea')!.value.trim();
    if (comment) {
      out.comment = comment.slice(0, MAX_COMMENT);
    }
    return out as IRating;
  }

  protected onAfterAttach(): void {
    this._check();
  }

  /** Submit is enabled only when every criterion has a score. */
  private _check(): void {
    const accept = this.node
      .closest('.jp-Dialog-content')
      ?.querySelector<HTMLButtonElement>('.jp-Dialog-footer .jp-mod-accept');
    if (accept) {
      accept.disabled = this.getValue() === null;
    }
  }
}

export type RatingOutcome =
  | { kind: 'stored'; rating: any }
  | { kind: 'already'; message: string }
  | { kind: 'skipped' }
  | { kind: 'error'; message: string };

/** The caller's stored rating of this session, or null. */
export async function storedRating(sessionId: string): Promise<any | null> {
  try {
    return await platformApi(`sessions/${encodeURIComponent(sessionId)}/rating`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      return null;
    }
    throw e;
  }
}

export async function postRating(sessionId: string, rating: IRating): Promise<RatingOutcome> {
  try {
    const stored = await platformApi(`sessions/${encodeURIComponent(sessionId)}/rating`, {
      method: 'POST',
      body: JSON.stringify(rating)
    });
    return { kind: 'stored', rating: stored };
  } catch (e: any) {
    if (e instanceof ApiError && e.status === 409) {
      return { kind: 'already', message: e.message };
    }
    return { kind: 'error', message: e?.message ?? String(e) };
  }
}

/** Ask for the rating and post it. */
export async function askRating(sessionId: string, partner: string): Promise<RatingOutcome> {
  const form = new RatingForm(partner);
  const result = await showDialog({
    title: `Rate your session with ${partner}`,
    body: form,
    buttons: [
      Dialog.cancelButton({ label: 'Skip' }),
      Dialog.okButton({ label: 'Submit rating' })
    ],
    focusNodeSelector: 'input[type="radio"]',
    hasClose: true
  });
  if (!result.button.accept) {
    return { kind: 'skipped' };
  }
  const rating = form.getValue();
  if (!rating) {
    return { kind: 'error', message: 'Give every criterion a score from 1 to 5.' };
  }
  return postRating(sessionId, rating);
}
