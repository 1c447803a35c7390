/**
 * peerplatform's JupyterLab extension: the pair session as the learners see it.
 * Active only on a pair server (one that answers `peerplatform/api/session`).
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { SessionModel } from './model';
import { NotebookLock } from './notebooklock';
import { SessionPanel } from './panel';
import { TimerWidget } from './timerwidget';

const pairIcon = new LabIcon({
  name: 'peerplatform:pair',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><g class="jp-icon3" fill="#616161">' +
    '<circle cx="8" cy="8" r="3.2"/><circle cx="16.5" cy="8" r="3.2"/>' +
    '<path d="M2 19c0-3.3 2.7-5.5 6-5.5s6 2.2 6 5.5z"/><path d="M14.6 13.8c.6-.2 1.2-.3 1.9-.3 3.3 0 5.5 2.2 5.5 5.5h-6.2c0-2-.4-3.8-1.2-5.2z"/>' +
    '</g></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'peerplatform-lab:plugin',
  description: 'Pair session panel, timer, observer lock, tests, voice and rating.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    restorer: ILayoutRestorer | null
  ) => {
    const model = new SessionModel();
    const lock = new NotebookLock(app, tracker);
    const panel = new SessionPanel(model);
    panel.title.icon = pairIcon;
    const timer = new TimerWidget(model);
    app.shell.add(panel, 'right', { rank: 50 });
    if (restorer) {
      restorer.add(panel, 'peerplatform-session');
    }
    let opened = false;
    let shown = false;
    const onChange = () => {
      if (model.absent) {
        // not a pair server: stay out of the way
        lock.locked = false;
        panel.close();
        timer.close();
        return;
      }
      // an observer's (or a locked session's) document updates are dropped by the server
      lock.readOnlyOnServer = model.canWriteContents === false;
      lock.locked = !model.editable;
      document.body.dataset.ppRole = model.role ?? '';
      document.body.dataset.ppEditable = String(model.editable);
      const info = model.info;
      if (!info) {
        return;
      }
      if (!shown) {
        shown = true;
        app.shell.add(timer, 'top', { rank: 900 });
        void app.restored.then(() => app.shell.activateById(panel.id));
      }
      if (!opened && info.session.notebook) {
        opened = true;
        void app.restored.then(() => {
          if (!tracker.find(p => p.context.path === info.session.notebook)) {
            return app.commands.execute('docmanager:open', { path: info.session.notebook });
          }
        });
      }
      if (model.ended) {
        void panel.onEnded();
      }
    };
    model.changed.connect(onChange);
    app.commands.addCommand('peerplatform:open-panel', {
      label: 'Show the pair session panel',
      execute: () => app.shell.activateById(panel.id)
    });
    void model.start(app.serviceManager.events ?? null);
  }
};

export default plugin;
