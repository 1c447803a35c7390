/**
 * Applies the lock (lock.ts) to JupyterLab: every cell of every notebook (existing and new)
 * is made read-only *locally*, edit/run/mutation commands and toolbar items are disabled,
 * drops/pastes into the notebook are refused, and the notebook's session context never
 * starts or connects a kernel. Flipping `locked` (a swap, the end) updates everything in
 * place, without a reload.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ISessionContext } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { applyCellLock, isBlockedCommand, NO_KERNEL_PREFERENCE } from './lock';

const LOCKED_CLASS = 'pp-mod-readonly';
/** Events that would change the notebook without a command. */
const BLOCKED_EVENTS = ['lm-drop', 'drop', 'paste', 'cut'];

export class NotebookLock {
  constructor(
    private app: JupyterFrontEnd,
    private tracker: INotebookTracker
  ) {
    this._gateCommands();
    this._gateKernelPreference();
    tracker.widgetAdded.connect((_, panel) => this._watch(panel));
    tracker.forEach(panel => this._watch(panel));
  }

  /** Whether editing is locked in this browser (the UI side of "observer" / "time is up"). */
  get locked(): boolean {
    return this._locked;
  }

  set locked(value: boolean) {
    if (value === this._locked) {
      return;
    }
    this._locked = value;
    this.tracker.forEach(panel => this._apply(panel));
    this.app.commands.notifyCommandChanged();
    if (!value) {
      void this._reopenStale();
    }
  }

  /**
   * Whether the server treats this user as read-only now (an observer). The server drops
   * every document update such a connection sends; JupyterLab's shared document (Yjs)
   * numbers each client's updates, so after one dropped update the server would hold back
   * all later ones of that client. A notebook that was open while read-only is therefore
   * reopened with a fresh document (new client id) when this user starts driving.
   */
  set readOnlyOnServer(value: boolean) {
    this._readOnlyOnServer = value;
    if (value) {
      this.tracker.forEach(panel => this._stale.add(panel));
    }
  }

  private async _reopenStale(): Promise<void> {
    const panels: NotebookPanel[] = [];
    this.tracker.forEach(panel => {
      if (this._stale.has(panel) && !panel.isDisposed) {
        panels.push(panel);
      }
    });
    this._stale = new WeakSet();
    for (const panel of panels) {
      const path = panel.context.path;
      panel.dispose();
      await this.app.commands.execute('docmanager:open', { path });
    }
  }

  /** Block commands that edit or run while locked (keyboard, menus, toolbars, palette). */
  private _gateCommands(): void {
    const commands = this.app.commands as any;
    const isEnabled = commands.isEnabled.bind(commands);
    const execute = commands.execute.bind(commands);
    commands.isEnabled = (id: string, args?: any) =>
      this._locked && isBlockedCommand(id) ? false : isEnabled(id, args);
    commands.execute = (id: string, args?: any) => {
      if (this._locked && isBlockedCommand(id)) {
        return Promise.resolve(undefined);
      }
      return execute(id, args);
    };
  }

  /** Notebooks opened while locked never start or reuse a kernel. */
  private _gateKernelPreference(): void {
    const registry = this.app.docRegistry as any;
    const get = registry.getKernelPreference.bind(registry);
    registry.getKernelPreference = (path: string, widgetName: string, kernel?: any) => {
      const pref = get(path, widgetName, kernel);
      if (pref) {
        this._defaults.set(path, pref);
      }
      return pref && this._locked ? { ...pref, ...NO_KERNEL_PREFERENCE } : pref;
    };
  }

  private _watch(panel: NotebookPanel): void {
    if (this._readOnlyOnServer) {
      this._stale.add(panel);
    }
    const notebook = panel.content;
    const onCells = () => this._applyCells(panel);
    const onModel = () => {
      notebook.model?.cells.changed.connect(onCells);
      onCells();
    };
    notebook.modelChanged.connect(onModel);
    if (notebook.model) {
      onModel();
    }
    // a cell widget can be (re)created without a change of the cell list (type change)
    notebook.activeCellChanged.connect(onCells);
    const block = (event: Event) => {
      if (this._locked) {
        event.preventDefault();
        event.stopPropagation();
      }
    };
    for (const type of BLOCKED_EVENTS) {
      panel.node.addEventListener(type, block, true);
    }
    panel.disposed.connect(() => {
      for (const type of BLOCKED_EVENTS) {
        panel.node.removeEventListener(type, block, true);
      }
    });
    this._apply(panel);
  }

  private _applyCells(panel: NotebookPanel): void {
    for (const cell of panel.content.widgets) {
      applyCellLock(cell as any, this._locked);
    }
  }

  private _apply(panel: NotebookPanel): void {
    this._applyCells(panel);
    panel.toggleClass(LOCKED_CLASS, this._locked);
    // toolbar items that are not commands (cell type menu, kernel name)
    panel.toolbar.node
      .querySelectorAll<HTMLSelectElement>('select')
      .forEach(select => (select.disabled = this._locked));
    if (this._locked && panel.content.mode === 'edit') {
      panel.content.mode = 'command';
    }
    this._applyKernel(panel.sessionContext, panel.context);
  }

  private _applyKernel(
    sessionContext: ISessionContext,
    context: DocumentRegistry.IContext<any>
  ): void {
    const base = this._defaults.get(context.path) ?? { ...sessionContext.kernelPreference };
    if (this._locked) {
      sessionContext.kernelPreference = { ...base, ...NO_KERNEL_PREFERENCE };
      // a kernel connection opened while driving: let go of it, never shut it down (the
      // server closes an observer's kernel sockets anyway)
      const session = sessionContext.session;
      if (session && !session.isDisposed) {
        session.dispose();
      }
    } else {
      sessionContext.kernelPreference = { ...base };
      if (!sessionContext.session && !sessionContext.isDisposed) {
        // the driver takes over the notebook's kernel (the server hands back the running
        // session of this path) or starts one
        void sessionContext.ready
          .then(() => {
            if (!this._locked && !sessionContext.session) {
              return sessionContext.changeKernel({ name: this._kernelName(sessionContext) });
            }
          })
          .catch(() => undefined);
      }
    }
  }

  private _kernelName(sessionContext: ISessionContext): string {
    return (
      sessionContext.kernelPreference.name ||
      sessionContext.specsManager.specs?.default ||
      'python3'
    );
  }

  // locked until the server says this user may edit: an observer's UI never starts a kernel
  private _locked = true;
  private _readOnlyOnServer = false;
  private _stale = new WeakSet<NotebookPanel>();
  private _defaults = new Map<string, ISessionContext.IKernelPreference>();
}
