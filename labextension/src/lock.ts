/**
 * Who may edit in this browser, and what "read-only" means for the notebook UI.
 * Pure logic (unit-tested); `notebooklock.ts` applies it to JupyterLab.
 *
 * The server is the guarantee (it drops an observer's document updates and refuses its
 * writes); the UI lock keeps the observer's local copy from diverging and its UI from
 * offering what would be refused.
 */

export type Role = 'driver' | 'observer';

export interface ILockInput {
  /** The caller's role in the session (null: not known yet, or not a member). */
  role: Role | null;
  /** `/api/me?permissions={"contents":["write"]}`: may this user write contents? */
  canWriteContents: boolean | null;
  /** The server says the session is locked (time is up, ended or failed). */
  locked: boolean;
  /** The session's state (`active`, `ended`, ...). */
  state: string | null;
}

/** Editable only for the driver of a running session who has write permission. */
export function mayEdit(input: ILockInput): boolean {
  return (
    input.role === 'driver' &&
    input.canWriteContents === true &&
    !input.locked &&
    (input.state === null || input.state === 'active')
  );
}

/**
 * Commands an observer must not run: they edit, execute, or start kernels, files, terminals.
 * Reading commands (copy, find, navigation, render, collapse) stay available.
 */
export const BLOCKED_COMMANDS: readonly RegExp[] = [
  /^notebook:(run|restart|interrupt|shutdown|change-kernel|reconnect-to-kernel)/,
  /^notebook:(cut|paste|delete|insert|merge|split|duplicate)-|^notebook:move-cell-/,
  /^notebook:change-cell-to-/,
  /^notebook:(undo|redo)(-cell-action)?$/,
  /^notebook:(clear-|replace-selection|toggle-render-side-by-side|trust|set-side-by-side)/,
  /^notebook:create-/,
  /^notebook:(access-previous-history-entry|access-next-history-entry)/,
  /^(runmenu|kernelmenu|editmenu):/,
  /^(kernel|kernelspec|sessions):/,
  /^docmanager:(save|rename|delete|new|duplicate|restore|reload|move|clone)/,
  /^filebrowser:(create|delete|rename|paste|cut|duplicate|upload|new|move)/,
  /^(console|terminal|fileeditor|launcher):(create|open|new)/,
  /^(console|terminal):/,
  /^fileeditor:(create|run|undo|redo|cut|paste|change|replace)/,
  /^completer:/,
  /^tooltip:/,
  /^documentsearch:(replace|highlight-replace)/,
  /^(cell-toolbar|toc):(run|insert|move|delete)/
];

export function isBlockedCommand(id: string): boolean {
  return BLOCKED_COMMANDS.some(re => re.test(id));
}

/** A notebook cell widget as far as locking goes (JupyterLab's `Cell`). */
export interface ILockableCell {
  syncEditable: boolean | undefined;
  readOnly: boolean;
}

/**
 * Lock a cell locally: never through the shared `metadata.editable` (that would lock the
 * driver too). `syncEditable = false` first, so that setting `readOnly` is not written
 * into the shared model.
 */
export function lockCell(cell: ILockableCell): void {
  if (cell.syncEditable !== false) {
    cell.syncEditable = false;
  }
  if (!cell.readOnly) {
    cell.readOnly = true;
  }
}

/**
 * Undo {@link lockCell}: follow the shared `metadata.editable` again (JupyterLab reloads
 * `readOnly` from it when `syncEditable` turns on, so the challenge statement stays
 * read-only for the driver too).
 */
export function unlockCell(cell: ILockableCell): void {
  if (cell.syncEditable !== true) {
    cell.syncEditable = true;
  }
}

export function applyCellLock(cell: ILockableCell, locked: boolean): void {
  if (locked) {
    lockCell(cell);
  } else {
    unlockCell(cell);
  }
}

/** Kernel preference of a notebook for someone who may not run code: never start or
 * connect a kernel (the server would refuse it with 403s). */
export const NO_KERNEL_PREFERENCE = {
  shouldStart: false,
  canStart: false,
  shouldReuse: false,
  autoStartDefault: false,
  skipKernelRestartDialog: true
} as const;
