import { describe, expect, it } from 'vitest';
import { applyCellLock, isBlockedCommand, mayEdit, type ILockableCell } from '../src/lock';

describe('mayEdit', () => {
  const base = { role: 'driver' as const, canWriteContents: true, locked: false, state: 'active' };
  it('lets only the driver of a running session with write permission edit', () => {
    expect(mayEdit(base)).toBe(true);
    expect(mayEdit({ ...base, role: 'observer' })).toBe(false);
    expect(mayEdit({ ...base, role: null })).toBe(false);
    expect(mayEdit({ ...base, canWriteContents: false })).toBe(false);
    expect(mayEdit({ ...base, canWriteContents: null })).toBe(false);
    expect(mayEdit({ ...base, locked: true })).toBe(false);
    expect(mayEdit({ ...base, state: 'ended' })).toBe(false);
  });
  it('trusts the server permission over the role (a stale role cannot unlock)', () => {
    expect(mayEdit({ ...base, role: 'driver', canWriteContents: false })).toBe(false);
  });
});

describe('isBlockedCommand', () => {
  it('blocks editing, running and kernel commands', () => {
    for (const id of [
      'notebook:run-cell', 'notebook:run-all-cells', 'notebook:run-cell-and-select-next',
      'notebook:delete-cell', 'notebook:cut-cell', 'notebook:paste-cell-below',
      'notebook:insert-cell-below', 'notebook:move-cell-up', 'notebook:merge-cells',
      'notebook:split-cell-at-cursor', 'notebook:change-cell-to-markdown', 'notebook:undo-cell-action',
      'notebook:clear-all-cell-outputs', 'notebook:restart-kernel',
      'notebook:change-kernel', 'notebook:create-new', 'runmenu:run', 'kernelmenu:restart',
      'editmenu:undo', 'docmanager:save', 'docmanager:rename', 'filebrowser:delete',
      'filebrowser:create-new-file', 'console:create', 'terminal:create-new', 'launcher:create',
      'documentsearch:replace'
    ]) {
      expect(isBlockedCommand(id), id).toBe(true);
    }
  });
  it('keeps reading and navigation', () => {
    for (const id of [
      'notebook:copy-cell', 'notebook:enter-edit-mode', 'notebook:move-cursor-down', 'notebook:enter-command-mode',
      'notebook:select-all', 'notebook:hide-cell-code', 'documentsearch:start',
      'application:toggle-right-area', 'peerplatform:open-panel', 'filebrowser:open',
      'docmanager:open', 'notebook:extend-marked-cells-below'
    ]) {
      expect(isBlockedCommand(id), id).toBe(false);
    }
  });
});

/** JupyterLab's Cell, as far as syncEditable/readOnly go (cells/src/widget.ts). */
class FakeCell implements ILockableCell {
  shared: { editable?: boolean } = {};
  private _ro = false;
  private _sync: boolean | undefined = true;
  get readOnly() { return this._ro; }
  set readOnly(v: boolean) {
    this._ro = v;
    if (this._sync) { // Cell.saveEditableState
      if (v) { this.shared.editable = false; } else { delete this.shared.editable; }
    }
  }
  get syncEditable() { return this._sync; }
  set syncEditable(v: boolean | undefined) {
    this._sync = v;
    if (v) { this._ro = this.shared.editable === false; } // Cell.loadEditableState
  }
}

describe('cell lock', () => {
  it('locks locally without touching the shared metadata', () => {
    const cell = new FakeCell();
    applyCellLock(cell, true);
    expect(cell.readOnly).toBe(true);
    expect(cell.syncEditable).toBe(false);
    expect(cell.shared.editable).toBeUndefined();
  });
  it('unlocks back to the shared state (the statement cell stays read-only)', () => {
    const code = new FakeCell();
    const statement = new FakeCell();
    statement.shared.editable = false;
    for (const c of [code, statement]) {
      applyCellLock(c, true);
      applyCellLock(c, false);
    }
    expect(code.readOnly).toBe(false);
    expect(statement.readOnly).toBe(true);
    expect(statement.shared.editable).toBe(false);
    expect(code.shared.editable).toBeUndefined();
  });
});
