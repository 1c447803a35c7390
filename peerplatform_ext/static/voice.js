/*
 * peerplatform voice: the browser side of a pair's call (plain ES module, no bundler).
 *
 * Served by every pair server at `<server base>peerplatform/static/voice.js`.
 *
 *   const voice = await import(/* webpackIgnore: true *\/ baseUrl + 'peerplatform/static/voice.js');
 *   const call = await voice.connect({
 *     baseUrl,              // the pair server's base URL, ending in '/' (e.g. '/user/pp-pairs/s-abc/')
 *     onState(state) {},    // 'idle' | 'connecting' | 'connected' | 'failed' | 'ended'
 *     onPartnerMute(muted) {},   // the partner muted / unmuted (also sent once on join)
 *     onPartnerPresent(present) {},  // optional: the partner joined / left the call
 *     onError(error) {},    // an Error with a message fit for the user
 *     Device,               // optional: Twilio's Device class (default globalThis.Twilio.Device,
 *                           // else the SDK the platform service serves); only for mode 'twilio'
 *     timeoutMs,            // optional: give up connecting after this (default: the service's
 *                           // connect_timeout_s); Twilio's connect() never completes offline
 *     audioElement,         // optional: where the partner's audio plays (default: a new <audio>)
 *     serviceUrl,           // optional: the platform service's prefix (default: what the pair
 *                           // server says, e.g. '/services/peerplatform/')
 *     serviceXsrf,          // optional: () => Promise<string>, the service's XSRF token
 *                           // (default: read from the service's `lab-bridge` page in a hidden
 *                           // same-origin iframe, as the JupyterLab extension does)
 *   });
 *   call.mode                // 'twilio' | 'webrtc'
 *   call.state               // as above
 *   call.offerer             // WebRTC: whether this browser makes the offer (the server decides)
 *   call.muted / call.partnerMuted / call.partnerPresent
 *   call.mute(true|false)    // mic off/on (WebRTC: track disabled; Twilio: call.mute and the
 *                            // conference participant), partner is told
 *   call.leave()             // hang up (state 'ended'); also happens when the session ends
 *   call.connected           // a Promise: resolves when connected, rejects on failure/timeout
 *   call.peerConnection      // WebRTC only: the RTCPeerConnection (for stats)
 *
 *   const info = await voice.describe({baseUrl});   // the call's description, e.g. info.mode
 *
 * Two servers take part, both on the page's origin:
 * - the pair server (`<server base>peerplatform/api/voice`) says which session and where the
 *   platform service is, and relays the signaling over `<server base>peerplatform/api/voice/signal`
 *   (who offers - no glare -, mute state, the end). It holds no voice secret.
 * - the platform service (`<service>api/voice/<session>`, with its own login cookie and XSRF
 *   token) gives the call's description: the mode, a Twilio token for this member (renewed at
 *   `token_url`) or the ICE servers with short-lived TURN credentials; it mutes the member's
 *   Twilio conference participant (`mute_url`) and serves Twilio's SDK (`sdk_url`).
 *
 * connect() rejects (and calls onError) when a server refuses: not a member (403), the session
 * is not running (409), voice unavailable (404), not logged in to the platform (401).
 * Everything after that is reported through onState/onError. No media goes through any
 * server but Twilio's (mode 'twilio') or the configured TURN server (mode 'webrtc', if any).
 */

const STATES = ['idle', 'connecting', 'connected', 'failed', 'ended'];

async function parseJSON(response) {
  let body = {};
  try {
    body = await response.json();
  } catch (e) {
    /* not JSON */
  }
  if (!response.ok) {
    const reason = body.message || response.statusText;
    throw new Error(`voice is unavailable (${response.status}): ${reason}`);
  }
  return body;
}

function pairServerXsrf() {
  const m = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : null;
}

async function getJSON(url) {
  // jupyter-server checks XSRF on cookie-authenticated API calls, GET included
  const headers = {Accept: 'application/json'};
  const xsrf = pairServerXsrf();
  if (xsrf) headers['X-XSRFToken'] = xsrf;
  return parseJSON(await fetch(url, {credentials: 'same-origin', headers}));
}

/**
 * The platform service's XSRF token. Browsers send `Sec-Fetch-Mode: cors` with every fetch,
 * and JupyterHub then accepts the service's login cookie only with the token, which this page
 * cannot read (the cookie belongs to the service's path). A navigation needs no token: the
 * service's `lab-bridge` page, loaded in a hidden same-origin iframe, hands it over.
 */
function bridgeXsrf(serviceUrl, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const frame = document.createElement('iframe');
    frame.hidden = true;
    frame.tabIndex = -1;
    frame.title = 'peerplatform voice bridge';
    frame.setAttribute('aria-hidden', 'true');
    const done = (error, token = '') => {
      clearTimeout(timer);
      frame.remove();
      if (error) reject(error);
      else resolve(token);
    };
    const timer = setTimeout(() => done(new Error('voice: the platform did not answer in time')), timeoutMs);
    frame.addEventListener('load', () => {
      let token;
      try {
        token = frame.contentDocument?.body?.dataset?.xsrf;
      } catch (e) {
        token = undefined;
      }
      if (token) done(null, token);
      else done(new Error('voice: you are not logged in to the platform: log in from the lobby'));
    });
    frame.src = serviceUrl + 'lab-bridge';
    document.body.appendChild(frame);
  });
}

/** The platform service's JSON API, cookie-authenticated (same origin through the Hub's proxy). */
class Service {
  constructor(url, xsrf) {
    this.url = url.endsWith('/') ? url : url + '/';
    this._getXsrf = xsrf || (() => bridgeXsrf(this.url));
    this._xsrf = null;
  }

  xsrf() {
    if (!this._xsrf) {
      this._xsrf = Promise.resolve().then(() => this._getXsrf());
      this._xsrf.catch(() => (this._xsrf = null));
    }
    return this._xsrf;
  }

  async json(path, init = {}, retry = true) {
    const headers = {Accept: 'application/json', 'X-XSRFToken': await this.xsrf()};
    if (init.body) headers['Content-Type'] = 'application/json';
    const response = await fetch(this.url + path, {...init, headers, credentials: 'same-origin'});
    if (response.status === 401 && retry) {
      // the token may be stale (a new login since): fetch it again, once
      this._xsrf = null;
      return this.json(path, init, false);
    }
    return parseJSON(response);
  }
}

function wsUrl(baseUrl, path) {
  const url = new URL(baseUrl + path, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

class Call {
  constructor(options, info, where, service) {
    this.options = options;
    this.info = info;
    this.where = where;
    this.service = service;
    this.mode = info.mode;
    this.offerer = null;
    this.state = 'idle';
    this.muted = false;
    this.partnerMuted = false;
    this.partnerPresent = false;
    this.peerConnection = null;
    this.remoteStream = null;
    this._ws = null;
    this._timer = null;
    this._done = false;
    this.timeoutMs = options.timeoutMs ?? Math.round((info.connect_timeout_s || 20) * 1000);
    this.connected = new Promise((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
    this.connected.catch(() => {}); // nobody has to await it
  }

  _setState(state) {
    if (!STATES.includes(state) || state === this.state) return;
    if (this.state === 'ended' || (this.state === 'failed' && state !== 'ended')) return;
    this.state = state;
    if (state === 'connected') {
      clearTimeout(this._timer);
      this._resolve(this);
    } else if (state === 'failed' || state === 'ended') {
      clearTimeout(this._timer);
      this._reject(new Error(`the call ${state}`));
    }
    this.options.onState?.(state);
  }

  _error(message) {
    this.options.onError?.(message instanceof Error ? message : new Error(message));
  }

  _fail(message) {
    if (this.state === 'ended' || this.state === 'failed') return;
    this._error(message);
    this._setState('failed');
    this._teardown(false);
  }

  _armTimeout(what) {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      if (this.state !== 'connected') {
        this._fail(`${what} did not connect within ${Math.round(this.timeoutMs / 1000)} s; ` +
          'check your network connection and try again');
      }
    }, this.timeoutMs);
  }

  _send(msg) {
    if (this._ws && this._ws.readyState === WebSocket.OPEN) this._ws.send(JSON.stringify(msg));
  }

  /** Open the signaling socket; resolves once it is open. */
  _openSignal() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl(this.options.baseUrl, this.where.signal_url));
      this._ws = ws;
      // handlers before anything is awaited: the server speaks first
      ws.onmessage = (event) => {
        let msg;
        try {
          msg = JSON.parse(event.data);
        } catch (e) {
          return;
        }
        this._onSignal(msg).catch((e) => this._fail(`voice signaling failed: ${e.message || e}`));
      };
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error('voice: could not open the signaling connection'));
      ws.onclose = (event) => {
        this._ws = null;
        if (this._done) return;
        if (event.code === 4000) {
          this._error('the call was opened in another window');
          this._end();
        } else if (event.code === 4001) {
          this._end();
        } else if (this.state !== 'ended') {
          this._fail(`the voice connection was lost (${event.code})`);
        }
      };
    });
  }

  async _onSignal(msg) {
    switch (msg.type) {
      case 'welcome':
        this.offerer = !!msg.offerer;
        this._partnerMute(!!msg.partner_muted);
        this._partnerPresence(!!msg.partner_present);
        break;
      case 'partner-joined':
        this._partnerPresence(true);
        this._partnerMute(!!msg.muted);
        break;
      case 'partner-mute':
        this._partnerMute(!!msg.muted);
        break;
      case 'partner-left':
      case 'bye':
        this._partnerPresence(false);
        if (this.mode === 'webrtc') this._resetPeer();
        break;
      case 'ended':
        this._end();
        break;
      case 'error':
        this._error(`voice: ${msg.message}`);
        break;
      default:
        if (this.mode === 'webrtc') await this._onWebRTC(msg);
    }
  }

  _partnerMute(muted) {
    this.partnerMuted = muted;
    this.options.onPartnerMute?.(muted);
  }

  _partnerPresence(present) {
    this.partnerPresent = present;
    this.options.onPartnerPresent?.(present);
  }

  // -- WebRTC ----------------------------------------------------------------------------

  async _startWebRTC() {
    this._setState('connecting');
    try {
      this._local = await navigator.mediaDevices.getUserMedia({audio: true, video: false});
    } catch (e) {
      throw new Error(`no microphone: ${e.message || e}`);
    }
    this._applyMute();
    await this._openSignal();
  }

  _newPeer() {
    this._resetPeer();
    const pc = new RTCPeerConnection({iceServers: this.info.ice_servers || []});
    this.peerConnection = pc;
    this._pending = [];
    for (const track of this._local.getTracks()) pc.addTrack(track, this._local);
    pc.onicecandidate = (event) => {
      if (event.candidate) this._send({type: 'candidate', candidate: event.candidate.toJSON()});
    };
    pc.ontrack = (event) => {
      this.remoteStream = event.streams[0] || new MediaStream([event.track]);
      const audio = this._audio();
      audio.srcObject = this.remoteStream;
      audio.play?.().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.peerConnection) return;
      if (pc.connectionState === 'connected') this._setState('connected');
      else if (pc.connectionState === 'failed') this._fail('the call could not reach your partner (network)');
    };
    this._armTimeout('the call');
    return pc;
  }

  _resetPeer() {
    if (this.peerConnection) {
      this.peerConnection.close();
      this.peerConnection = null;
      if (this.state === 'connected') {
        this.state = 'connecting';
        this.options.onState?.('connecting');
      }
    }
  }

  _audio() {
    if (!this._audioElement) {
      this._audioElement = this.options.audioElement || new Audio();
      this._audioElement.autoplay = true;
    }
    return this._audioElement;
  }

  async _flushCandidates() {
    const pc = this.peerConnection;
    for (const c of this._pending.splice(0)) await pc.addIceCandidate(c);
  }

  async _onWebRTC(msg) {
    if (msg.type === 'start') {
      this._partnerPresence(true);
      const pc = this._newPeer();
      if (msg.offerer) {
        await pc.setLocalDescription(await pc.createOffer());
        this._send({type: 'offer', sdp: pc.localDescription.sdp});
      }
    } else if (msg.type === 'offer') {
      const pc = this.peerConnection || this._newPeer();
      await pc.setRemoteDescription({type: 'offer', sdp: msg.sdp});
      await this._flushCandidates();
      await pc.setLocalDescription(await pc.createAnswer());
      this._send({type: 'answer', sdp: pc.localDescription.sdp});
    } else if (msg.type === 'answer' && this.peerConnection) {
      await this.peerConnection.setRemoteDescription({type: 'answer', sdp: msg.sdp});
      await this._flushCandidates();
    } else if (msg.type === 'candidate' && msg.candidate && this.peerConnection) {
      if (this.peerConnection.remoteDescription) await this.peerConnection.addIceCandidate(msg.candidate);
      else this._pending.push(msg.candidate);
    }
  }

  _applyMute() {
    if (this._local) for (const t of this._local.getAudioTracks()) t.enabled = !this.muted;
  }

  // -- Twilio ----------------------------------------------------------------------------

  async _startTwilio(Device) {
    this._setState('connecting');
    const device = new Device(this.info.token, {
      codecPreferences: ['opus', 'pcmu'],
      closeProtection: true,
      logLevel: 'warn',
    });
    this._device = device;
    device.on('tokenWillExpire', async () => {
      try {
        const fresh = await this.service.json(this.info.token_url);
        device.updateToken(fresh.token);
      } catch (e) {
        this._error(`voice: could not renew the call's token: ${e.message}`);
      }
    });
    device.on('error', (e) => this._error(`voice: ${e.message || e}`));
    await this._openSignal();
    this._armTimeout('the call');
    // No params: the server finds the pair from the signed identity, never from the browser.
    Promise.resolve(device.connect({})).then((twCall) => {
      if (this._done) {
        twCall.disconnect();
        return;
      }
      this._twCall = twCall;
      twCall.on('accept', () => this._setState('connected'));
      twCall.on('disconnect', () => this._end());
      twCall.on('error', (e) => this._error(`voice: ${e.message || e}`));
      if (this.muted) twCall.mute(true);
      if (twCall.status?.() === 'open') this._setState('connected');
    }, (e) => this._fail(`the call could not start: ${e.message || e}`));
  }

  // -- public ----------------------------------------------------------------------------

  mute(muted = true) {
    this.muted = !!muted;
    if (this.mode === 'webrtc') this._applyMute();
    else {
      if (this._twCall) this._twCall.mute(this.muted);
      // the conference's own state too (what Twilio reports for the session's record); best
      // effort: the microphone is already off, and a failure must not disturb the call
      if (this.info.mute_url) {
        const body = JSON.stringify({muted: this.muted});
        this.service.json(this.info.mute_url, {method: 'POST', body}).catch(() => {});
      }
    }
    this._send({type: 'mute', muted: this.muted});
  }

  leave() {
    this._send({type: 'bye'});
    this._end();
  }

  _end() {
    if (this.state === 'ended' || this._ending) return;
    this._ending = true;
    this._teardown(true);
    this._setState('ended');
  }

  _teardown(closeSocket) {
    this._done = true;
    clearTimeout(this._timer);
    if (this.peerConnection) {
      this.peerConnection.close();
      this.peerConnection = null;
    }
    if (this._local) for (const t of this._local.getTracks()) t.stop();
    const twCall = this._twCall;
    this._twCall = null; // its 'disconnect' event comes back here
    if (twCall) {
      try {
        twCall.disconnect();
      } catch (e) {
        /* already gone */
      }
    }
    const device = this._device;
    this._device = null;
    if (device) {
      try {
        device.destroy();
      } catch (e) {
        /* already gone */
      }
    }
    if (this._ws && (closeSocket || this.state !== 'ended')) {
      this._ws.close();
      this._ws = null;
    }
  }
}

/** Twilio's SDK bundle (served by the platform service) defines globalThis.Twilio.Device. */
function loadTwilioSDK(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = url;
    script.onload = () => resolve(globalThis.Twilio?.Device);
    script.onerror = () => reject(new Error("voice: could not load Twilio's Voice SDK"));
    document.head.appendChild(script);
  });
}

function normalized(options) {
  if (!options || typeof options.baseUrl !== 'string') throw new Error('connect() needs {baseUrl}');
  const baseUrl = options.baseUrl.endsWith('/') ? options.baseUrl : options.baseUrl + '/';
  return {...options, baseUrl};
}

/** Where the call is (pair server) and its description (service): [where, service, info]. */
async function locate(options) {
  const where = await getJSON(options.baseUrl + 'peerplatform/api/voice');
  const service = new Service(options.serviceUrl || where.service_url, options.serviceXsrf);
  const info = await service.json(`api/voice/${encodeURIComponent(where.session)}`);
  return [where, service, info];
}

/** The call's description from the platform service (e.g. `mode`), without joining it. */
export async function describe(options) {
  const [, , info] = await locate(normalized(options));
  return info;
}

/** Join the pair's call (see the header for the options and the returned object). */
export async function connect(options) {
  options = normalized(options);
  let where, service, info;
  try {
    [where, service, info] = await locate(options);
  } catch (e) {
    options.onError?.(e);
    throw e;
  }
  const call = new Call(options, info, where, service);
  try {
    if (info.mode === 'twilio') {
      let Device = options.Device || globalThis.Twilio?.Device;
      if (!Device && info.sdk_url) Device = await loadTwilioSDK(service.url + info.sdk_url);
      if (!Device) throw new Error("voice: Twilio's Voice SDK is not loaded (pass {Device})");
      await call._startTwilio(Device);
    } else {
      await call._startWebRTC();
    }
  } catch (e) {
    call._fail(e);
    throw e;
  }
  return call;
}

export default {connect, describe};
