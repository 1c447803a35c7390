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
 *                           // else the SDK the pair server serves); only for mode 'twilio'
 *     timeoutMs,            // optional: give up connecting after this (default: the server's
 *                           // connect_timeout_s); Twilio's connect() never completes offline
 *     audioElement,         // optional: where the partner's audio plays (default: a new <audio>)
 *   });
 *   call.mode                // 'twilio' | 'webrtc'
 *   call.state               // as above
 *   call.muted / call.partnerMuted / call.partnerPresent
 *   call.mute(true|false)    // mic off/on (WebRTC: track disabled; Twilio: call.mute), partner is told
 *   call.leave()             // hang up (state 'ended'); also happens when the session ends
 *   call.connected           // a Promise: resolves when connected, rejects on failure/timeout
 *   call.peerConnection      // WebRTC only: the RTCPeerConnection (for stats)
 *
 * connect() rejects (and calls onError) when the server refuses: not a member (403), the
 * session is not running (409), voice unavailable (404). Everything after that is reported
 * through onState/onError. The server decides who offers (no glare) and relays the signaling
 * over `<server base>peerplatform/api/voice/signal`; no media goes through any server but
 * Twilio's (mode 'twilio') or the configured TURN server (mode 'webrtc', if any).
 */

const STATES = ['idle', 'connecting', 'connected', 'failed', 'ended'];

async function getJSON(url) {
  const response = await fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}});
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

function wsUrl(baseUrl, path) {
  const url = new URL(baseUrl + path, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

class Call {
  constructor(options, info) {
    this.options = options;
    this.info = info;
    this.mode = info.mode;
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
      const ws = new WebSocket(wsUrl(this.options.baseUrl, this.info.signal_url));
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
        const fresh = await getJSON(this.options.baseUrl + this.info.token_url);
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
    else if (this._twCall) this._twCall.mute(this.muted);
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

/** Twilio's SDK bundle (served by the pair server) defines globalThis.Twilio.Device. */
function loadTwilioSDK(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = url;
    script.onload = () => resolve(globalThis.Twilio?.Device);
    script.onerror = () => reject(new Error("voice: could not load Twilio's Voice SDK"));
    document.head.appendChild(script);
  });
}

/** Join the pair's call (see the header for the options and the returned object). */
export async function connect(options) {
  if (!options || typeof options.baseUrl !== 'string') throw new Error('connect() needs {baseUrl}');
  const baseUrl = options.baseUrl.endsWith('/') ? options.baseUrl : options.baseUrl + '/';
  options = {...options, baseUrl};
  let info;
  try {
    info = await getJSON(baseUrl + 'peerplatform/api/voice');
  } catch (e) {
    options.onError?.(e);
    throw e;
  }
  const call = new Call(options, info);
  try {
    if (info.mode === 'twilio') {
      let Device = options.Device || globalThis.Twilio?.Device;
      if (!Device && info.sdk_url) Device = await loadTwilioSDK(baseUrl + info.sdk_url);
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

export default {connect};
