/*
 * The storefront chat widget: one <script> tag on the seller's site.
 *
 *   <script src="https://support.example.com/widget.js" async
 *           data-customer-token="…" data-locale="fr" data-brand-color="#0a7d5a"></script>
 *
 * No framework and no requests to anyone but the service it was loaded from
 * (or data-service-url). It lives in a shadow root so the store's CSS cannot
 * break it. Messages go over a WebSocket (HTTP when that fails); each one keeps
 * its client_msg_id in an outbox stored in localStorage until its replies
 * arrive, and is sent again after a network loss or a reload, so nothing is lost;
 * the server recognises the id, so nothing is doubled. One message is on its way
 * at a time, the oldest first, so they arrive in the order they were written even
 * when some are refused and sent again. The conversation id and its key are
 * issued by the server at the first hello (or first HTTP message) and sent only
 * in frames and request bodies, never in a URL. Every text the buyer sees
 * is set with textContent: nothing a buyer, an agent or the bot writes is HTML.
 */
(function () {
  "use strict";
  if (window.StoreAssistant) return; // the tag was added twice
  var script = document.currentScript;
  if (!script) return;
  var data = script.dataset;
  var service = (data.serviceUrl || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var brand = /^#[0-9a-fA-F]{3,8}$/.test(data.brandColor || "") ? data.brandColor : "#1f6feb";
  var token = data.customerToken || "";
  var DAY = 24 * 3600 * 1000;
  var STORE_KEY = "store-assistant:" + service;

  // --- who is chatting, and their conversation (same one for 24 h, across pages) ---
  function identity(t) {
    try {
      var json = atob(t.replace(/-/g, "+").replace(/_/g, "/"));
      return String(JSON.parse(json).customer_id || "");
    } catch (e) {
      return "";
    }
  }
  function randomId() { // a client_msg_id (conversation ids come from the server)
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  function load() {
    try { return JSON.parse(localStorage.getItem(STORE_KEY) || "null"); } catch (e) { return null; }
  }
  var state = load();
  var who = identity(token);
  if (!state || state.who !== who || !(Date.now() - state.last < DAY) || (state.cid && !state.key)) {
    // A different person (signed in, out, or another account) never sees the
    // last one's conversation; their unsent messages are dropped with it.
    state = { cid: "", key: "", who: who, last: Date.now(), outbox: [], seen: 0, open: false, lang: "" };
  }
  var finished = {}; // client_msg_ids answered in this page
  /** Store the state; messages another page of the store has queued are kept, not
   *  overwritten (each page sends what is in the outbox; the server drops repeats). */
  function save() {
    state.last = Date.now();
    var stored = load();
    if (stored && stored.cid === state.cid && Array.isArray(stored.outbox)) {
      var mine = {};
      state.outbox.forEach(function (m) { mine[m.id] = true; });
      stored.outbox.forEach(function (m) {
        if (!mine[m.id] && !finished[m.id]) state.outbox.push({ id: m.id, text: m.text, payload: m.payload, shown: m.shown });
      });
    }
    try { localStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (e) { /* private mode: the page still works */ }
  }
  save();

  // --- labels -------------------------------------------------------------------
  var config = null; // {labels: {lang: {key: text}}, languages, rtl, max_message_length}
  var lang = "en";
  function pickLanguage(code) {
    code = String(code || "").toLowerCase().split(/[-_]/)[0];
    return config && config.labels[code] ? code : null;
  }
  function t(key, values) {
    var text = (config.labels[lang] || {})[key] || config.labels.en[key] || key;
    return text.replace(/\{(\w+)\}/g, function (m, name) { return values && name in values ? values[name] : m; });
  }

  // --- the interface ------------------------------------------------------------
  var host, root, launcher, badge, panel, log, input, typing, status, subtitle, titleEl, notice;
  var els = {}; // message key → element
  var lastId = 0;
  var withPerson = false;
  var agent = "";
  var unread = 0;
  var personTypingUntil = 0;

  var CSS =
    ":host{all:initial}" +
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans CJK SC','Noto Sans Arabic',sans-serif}" +
    ".launcher{position:fixed;bottom:20px;inset-inline-end:20px;width:60px;height:60px;border-radius:50%;border:0;" +
    "background:var(--brand);color:#fff;cursor:pointer;box-shadow:0 4px 14px #0004;z-index:2147483000;display:flex;align-items:center;justify-content:center}" +
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
    ".badge{position:absolute;top:-4px;inset-inline-end:-4px;min-width:22px;height:22px;border-radius:11px;background:#d4351c;" +
    "color:#fff;font-size:13px;line-height:22px;padding:0 6px}" +
    ".panel{position:fixed;bottom:92px;inset-inline-end:20px;width:370px;height:560px;max-height:calc(100vh - 112px);" +
    "background:#fff;color:#1d2433;border-radius:14px;box-shadow:0 8px 30px #0005;display:flex;flex-direction:column;" +
    "overflow:hidden;z-index:2147483000;font-size:15px;line-height:1.4}" +
    ".head{background:var(--brand);color:#fff;padding:12px 14px;display:flex;align-items:center;gap:8px}" +
    ".head h2{font-size:16px;margin:0}.head p{font-size:13px;margin:2px 0 0;opacity:.9}.head div{flex:1}" +
    ".close{background:transparent;border:0;color:#fff;font-size:22px;cursor:pointer;width:36px;height:36px;border-radius:8px}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:6px;background:#f6f7f9}" +
    ".msg{max-width:85%;padding:8px 11px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}" +
    ".msg .who{display:block;font-size:12px;font-weight:600;opacity:.75;margin-bottom:2px}" +
    ".buyer{align-self:flex-end;background:var(--brand);color:#fff;border-end-end-radius:4px}" +
    ".buyer a{color:#fff}" +
    ".bot,.staff{align-self:flex-start;background:#fff;border:1px solid #e3e5ea;border-end-start-radius:4px}" +
    ".staff{border-color:var(--brand)}" +
    ".system{align-self:center;font-size:13px;color:#4a5160;background:#eceef2;border-radius:10px;text-align:center}" +
    ".pending{opacity:.7}.state{display:block;font-size:11px;opacity:.85;margin-top:2px}" +
    ".quick{display:flex;flex-wrap:wrap;gap:6px;align-self:flex-start}" +
    ".quick button{border:1px solid var(--brand);color:var(--brand);background:#fff;border-radius:16px;padding:6px 12px;" +
    "cursor:pointer;font-size:14px}.quick button:hover{background:#eef3ff}" +
    ".quick button[disabled]{opacity:.45;cursor:default}" +
    ".stars button{font-size:24px;border:0;padding:2px 4px;color:#c7ccd6;background:transparent}" +
    ".stars button.on{color:#f5a623}" +
    ".typing{font-size:13px;color:#4a5160;padding:4px 14px;min-height:24px;background:#f6f7f9}" +
    ".status{font-size:13px;color:#8a2c0d;background:#fff4e5;padding:6px 14px}" +
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e3e5ea;background:#fff}" +
    "textarea{flex:1;resize:none;border:1px solid #c7ccd6;border-radius:10px;padding:8px 10px;font-size:15px;height:42px;max-height:120px}" +
    ".send{background:var(--brand);color:#fff;border:0;border-radius:10px;padding:0 14px;cursor:pointer;font-size:15px}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    "[hidden]{display:none!important}" +
    "@media (max-width:480px){.panel{inset:0;width:100%;height:100%;max-height:none;border-radius:0;bottom:0}" +
    ".launcher{bottom:14px;inset-inline-end:14px}.launcher[aria-expanded=true]{display:none}}";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  /** A 24×24 line icon (SVG, so it needs no emoji font on the buyer's machine). */
  function icon(path) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var shape = document.createElementNS(ns, "path");
    shape.setAttribute("d", path);
    shape.setAttribute("fill", "none");
    shape.setAttribute("stroke", "currentColor");
    shape.setAttribute("stroke-width", "2");
    shape.setAttribute("stroke-linejoin", "round");
    svg.appendChild(shape);
    return svg;
  }

  /** Text with http(s) links made clickable; everything else stays text. */
  function rich(node, text) {
    var re = /\bhttps?:\/\/[^\s<>"'()\[\]]+/g;
    var at = 0, m;
    text = String(text || "");
    while ((m = re.exec(text))) {
      var url = m[0].replace(/[.,;:!?]+$/, "");
      node.appendChild(document.createTextNode(text.slice(at, m.index)));
      var a = el("a", null, url);
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      a.appendChild(el("span", "sr", " " + t("new_tab")));
      node.appendChild(a);
      at = m.index + url.length;
      re.lastIndex = at;
    }
    node.appendChild(document.createTextNode(text.slice(at)));
  }

  function build() {
    host = el("div");
    host.id = "store-assistant";
    root = host.attachShadow({ mode: "open" });
    var style = el("style", null, CSS);
    root.appendChild(style);
    host.style.setProperty("--brand", brand);

    launcher = el("button", "launcher");
    launcher.type = "button";
    launcher.setAttribute("aria-controls", "sa-panel");
    launcher.setAttribute("aria-expanded", "false");
    launcher.appendChild(icon("M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"));
    badge = el("span", "badge");
    badge.hidden = true;
    badge.setAttribute("aria-hidden", "true");
    launcher.appendChild(badge);
    launcher.onclick = function () { setOpen(!state.open); };

    panel = el("div", "panel");
    panel.id = "sa-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-labelledby", "sa-title");
    panel.hidden = true;
    var head = el("div", "head");
    var titles = el("div");
    titleEl = el("h2");
    titleEl.id = "sa-title";
    subtitle = el("p");
    titles.appendChild(titleEl);
    titles.appendChild(subtitle);
    var close = el("button", "close", "×");
    close.type = "button";
    close.onclick = function () { setOpen(false); };
    head.appendChild(titles);
    head.appendChild(close);

    status = el("div", "status");
    status.setAttribute("role", "status");
    status.hidden = true;
    log = el("div", "log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-relevant", "additions");
    log.tabIndex = 0;
    typing = el("div", "typing");
    typing.setAttribute("aria-live", "polite");
    notice = el("div", "sr");
    notice.setAttribute("role", "alert");

    var form = el("form");
    var label = el("label", "sr");
    label.htmlFor = "sa-input";
    input = el("textarea");
    input.id = "sa-input";
    input.rows = 1;
    input.setAttribute("dir", "auto");
    var send = el("button", "send");
    send.type = "submit";
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);
    form.onsubmit = function (event) { event.preventDefault(); sendText(); };
    input.onkeydown = function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); sendText(); }
    };
    panel.onkeydown = function (event) {
      if (event.key === "Escape") { setOpen(false); }
    };
    panel.appendChild(head);
    panel.appendChild(status);
    panel.appendChild(log);
    panel.appendChild(typing);
    panel.appendChild(form);
    panel.appendChild(notice);
    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(host);
    els.label = label;
    els.send = send;
    els.close = close;
    log.appendChild(el("div", "msg system welcome"));
  }

  /** Every label in the current language; the layout right to left for Arabic. */
  function relabel() {
    var dir = config.rtl.indexOf(lang) >= 0 ? "rtl" : "ltr";
    panel.dir = dir;
    launcher.dir = dir;
    badge.dir = dir;
    panel.lang = lang;
    launcher.lang = lang;
    titleEl.textContent = t("title");
    subtitle.textContent = withPerson && agent ? t("subtitle_person", { agent: agent }) : t("subtitle_bot");
    log.setAttribute("aria-label", t("log_label"));
    els.label.textContent = t("input_label");
    input.placeholder = t("input_placeholder");
    els.send.textContent = t("send");
    els.close.setAttribute("aria-label", t("launcher_close"));
    log.querySelector(".welcome").textContent = t("welcome");
    var stars = root.querySelectorAll(".stars button");
    for (var i = 0; i < stars.length; i++) stars[i].setAttribute("aria-label", t("rating_star", { n: i % 5 + 1 }));
    var groups = root.querySelectorAll(".stars");
    for (var g = 0; g < groups.length; g++) groups[g].setAttribute("aria-label", t("rating_group"));
    var whos = root.querySelectorAll(".who[data-role]");
    for (var w = 0; w < whos.length; w++) whos[w].textContent = t(whos[w].getAttribute("data-role"));
    var pend = root.querySelectorAll(".state");
    for (var p = 0; p < pend.length; p++) pend[p].textContent = t(pend[p].getAttribute("data-state"));
    drawBadge();
    drawTyping();
    drawStatus();
  }

  function setLanguage(code) {
    var picked = pickLanguage(code);
    if (!picked || picked === lang) return;
    lang = picked;
    state.lang = picked;
    save();
    relabel();
  }

  function setOpen(open) {
    state.open = open;
    save();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      unread = 0;
      markSeen();
      drawBadge();
      log.scrollTop = log.scrollHeight;
      input.focus();
    } else {
      launcher.focus();
    }
  }

  function markSeen() {
    if (lastId > state.seen) { state.seen = lastId; save(); }
  }

  function drawBadge() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    var label = state.open ? t("launcher_close") : t("launcher_open");
    if (unread) label += ". " + t("unread", { count: unread });
    launcher.setAttribute("aria-label", label);
  }

  function drawTyping() {
    var waitingForBot = !withPerson && state.outbox.some(function (m) { return m.sent; });
    if (Date.now() < personTypingUntil) typing.textContent = t("typing_person", { agent: agent || "" });
    else typing.textContent = waitingForBot ? t("typing_bot") : "";
  }

  var connectionLost = false;
  function drawStatus() {
    status.hidden = !connectionLost;
    status.textContent = connectionLost ? t("offline") : "";
    // Waiting messages say whether they are on their way or held until the connection is back.
    var waiting = root.querySelectorAll(".pending .state");
    for (var i = 0; i < waiting.length; i++) {
      var key = connectionLost ? "not_sent" : "sending";
      waiting[i].setAttribute("data-state", key);
      waiting[i].textContent = t(key);
    }
  }

  function announce(text) {
    notice.textContent = "";
    setTimeout(function () { notice.textContent = text; }, 50);
  }

  function scroll() {
    log.scrollTop = log.scrollHeight;
  }

  function systemLine(text, className) {
    var line = el("div", "msg system " + (className || ""), text);
    log.appendChild(line);
    scroll();
    return line;
  }

  function disableQuickReplies() {
    var buttons = root.querySelectorAll(".quick button");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
  }

  function quickReplies(buttons) {
    var stars = buttons.length === 5 && buttons.every(function (b) { return /^\/give_rating/.test(b.payload || ""); });
    var row = el("div", stars ? "quick stars" : "quick");
    row.setAttribute("role", "group");
    if (stars) row.setAttribute("aria-label", t("rating_group"));
    buttons.forEach(function (b, i) {
      if (typeof b.payload !== "string" || typeof b.title !== "string") return;
      var button = el("button", null, stars ? "★" : b.title);
      button.type = "button";
      if (stars) {
        button.setAttribute("aria-label", t("rating_star", { n: i + 1 }));
        button.onmouseenter = button.onfocus = function () {
          var all = row.querySelectorAll("button");
          for (var k = 0; k < all.length; k++) all[k].classList.toggle("on", k <= i);
        };
      }
      button.onclick = function () {
        disableQuickReplies();
        queue({ payload: b.payload, shown: b.title });
        input.focus();
      };
      row.appendChild(button);
    });
    return row;
  }

  /** Show one message from the server (history, reply or push), once. */
  function show(m, live) {
    if (!m || (!m.text && !m.buttons)) return;
    if (typeof m.id === "number") {
      if (els["id:" + m.id]) return;
      lastId = Math.max(lastId, m.id);
    }
    var sender = m.sender || "bot";
    if (sender === "buyer" && m.client_msg_id && els["c:" + m.client_msg_id]) {
      var mine = els["c:" + m.client_msg_id]; // shown when it was typed: now it is stored
      mine.classList.remove("pending");
      var st = mine.querySelector(".state");
      if (st) st.remove();
      if (typeof m.id === "number") els["id:" + m.id] = mine;
      return;
    }
    if (sender === "system") {
      var line = systemLine(m.text, "joined");
      if (typeof m.id === "number") els["id:" + m.id] = line;
      return;
    }
    var bubble = el("div", "msg " + (sender === "buyer" ? "buyer" : sender === "staff" ? "staff" : "bot"));
    bubble.setAttribute("dir", "auto");
    var whoEl = el("span", "who");
    if (sender === "staff") whoEl.textContent = m.agent || "";
    else {
      whoEl.setAttribute("data-role", sender === "buyer" ? "you" : "assistant");
      whoEl.textContent = t(sender === "buyer" ? "you" : "assistant");
    }
    whoEl.classList.add("sr");
    if (sender === "staff") whoEl.classList.remove("sr");
    bubble.appendChild(whoEl);
    rich(bubble, m.text);
    if (typeof m.id === "number") els["id:" + m.id] = bubble;
    disableQuickReplies();
    log.appendChild(bubble);
    if (sender !== "buyer" && Array.isArray(m.buttons) && m.buttons.length) log.appendChild(quickReplies(m.buttons));
    if (sender !== "buyer" && live && typeof m.id === "number" && m.id > state.seen) {
      if (state.open && !document.hidden) markSeen();
      else { unread += 1; drawBadge(); }
    }
    scroll();
  }

  function showPending(item) {
    var bubble = el("div", "msg buyer pending");
    bubble.setAttribute("dir", "auto");
    var whoEl = el("span", "who sr");
    whoEl.setAttribute("data-role", "you");
    whoEl.textContent = t("you");
    bubble.appendChild(whoEl);
    rich(bubble, item.shown || item.text);
    var key = connectionLost ? "not_sent" : "sending";
    var st = el("span", "state", t(key));
    st.setAttribute("data-state", key);
    bubble.appendChild(st);
    els["c:" + item.id] = bubble;
    log.appendChild(bubble);
    scroll();
  }

  // --- sending ------------------------------------------------------------------
  function sendText() {
    var text = input.value.trim();
    if (!text) return;
    if (text.length > config.max_message_length) {
      // Kept in the box so the buyer can shorten it: nothing they typed is lost.
      var line = systemLine(t("too_long", { max: config.max_message_length }), "error");
      announce(line.textContent);
      return;
    }
    input.value = "";
    queue({ text: text });
  }

  function queue(message) {
    var item = { id: randomId(), text: message.text || "", payload: message.payload || "", shown: message.shown || "" };
    state.outbox.push(item);
    save();
    showPending(item);
    flush();
  }

  function frame(item) {
    var body = {
      type: "message",
      client_msg_id: item.id,
      locale: data.locale || navigator.language || "",
      time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone || "",
    };
    if (item.payload) { body.payload = item.payload; body.shown = item.shown; } else body.text = item.text;
    if (token) body.customer_token = token;
    return body;
  }

  function finish(clientMsgId) {
    finished[clientMsgId] = true;
    state.outbox = state.outbox.filter(function (m) { return m.id !== clientMsgId; });
    save();
    drawTyping();
  }

  /** The server issued this conversation (first hello or first message): keep its id and
   *  key, unless another page of the store already keeps one for the same person. */
  function adopt(cid, key) {
    var stored = load();
    if (stored && stored.cid && stored.key && stored.who === who && stored.cid !== cid && !state.cid) {
      state.cid = stored.cid;
      state.key = stored.key;
      return false;
    }
    state.cid = cid;
    state.key = key;
    save();
    return true;
  }

  var retryTimer = null;
  var holdUntil = 0;
  function retryLater(seconds) {
    clearTimeout(retryTimer);
    // Nothing goes before then, so the refused message is sent again before any later one.
    var wait = Math.max(0.5, seconds) * 1000;
    holdUntil = Date.now() + wait;
    retryTimer = setTimeout(function () { holdUntil = 0; flush(); }, wait);
  }

  var slowNoticeShown = 0;
  /** A reply (or refusal) to one of our messages, from the WebSocket or HTTP. */
  function answered(body) {
    var error = body.error;
    if (body.language) setLanguage(body.language);
    if (body.conversation_key && !state.cid) adopt(body.conversation_id, body.conversation_key);
    if (!error) {
      if (body.message) show(body.message, false);
      else if (els["c:" + body.client_msg_id]) show({ sender: "buyer", client_msg_id: body.client_msg_id }, false);
      (body.messages || []).forEach(function (m) { show(m, true); });
      setPerson(!!body.with_person, agent);
      finish(body.client_msg_id);
      flush();
      return;
    }
    var item = state.outbox.filter(function (m) { return m.id === body.client_msg_id; })[0];
    if (item) item.sent = false;
    if (error.code === "pending") {
      retryLater(error.retry_after || 2); // its first copy (another tab) is still being answered
    } else if (error.code === "throttled") {
      if (Date.now() - slowNoticeShown > 5000) { slowNoticeShown = Date.now(); announce(systemLine(error.detail, "slow").textContent); }
      retryLater(error.retry_after || 1);
    } else if (error.code === "assistant_unavailable" || error.code === "internal_error") {
      systemLine(error.detail, "error");
      retryLater(10);
    } else if (error.code === "conversation_not_yours") {
      newConversation();
    } else {
      // Refused for good (too long, invalid): say so, and do not send it again.
      systemLine(error.detail || t("error"), "error");
      var bubble = els["c:" + body.client_msg_id];
      if (bubble) { var st = bubble.querySelector(".state"); if (st) { st.textContent = t("error"); st.setAttribute("data-state", "error"); } }
      finish(body.client_msg_id);
      flush();
    }
    drawTyping();
  }

  /** The conversation is not (or no longer) this buyer's: the server starts another. */
  function newConversation() {
    state.cid = "";
    state.key = "";
    state.seen = 0;
    lastId = 0;
    save();
    if (socket) socket.close();
    else flush();
  }

  function setPerson(on, name) {
    withPerson = on;
    agent = name || "";
    subtitle.textContent = withPerson && agent ? t("subtitle_person", { agent: agent }) : t("subtitle_bot");
    drawTyping();
  }

  // --- transport: WebSocket, HTTP when it cannot connect ------------------------
  var socket = null;
  var mode = "ws";
  var failures = 0;
  var everOpened = false;
  var pollTimer = null;

  function flush() {
    drawTyping();
    var ready = mode === "ws" ? socket && socket.readyState === 1 && socket.helloDone : mode === "http";
    if (!ready || Date.now() < holdUntil) return;
    // One message at a time, the oldest first: the next goes when this one is answered,
    // so messages arrive in the order they were written, refused ones included.
    var next = state.outbox.filter(function (m) { return !m.sent; })[0];
    if (!next || state.outbox.some(function (m) { return m.sent; })) return;
    next.sent = true;
    if (mode === "http") post(next);
    else socket.send(JSON.stringify(frame(next)));
    drawTyping();
  }

  /** Every HTTP message carries a conversation id: the first one is asked for on its own
   *  (POST /api/chat/start stores nothing, so asking again after a lost answer is harmless),
   *  never issued with a message, whose retry would then start a second conversation. */
  function post(item) {
    var json = { "Content-Type": "application/json" };
    var lost = function () { item.sent = false; setOffline(true); retryLater(5); };
    if (!state.cid) {
      fetch(service + "/api/chat/start", { method: "POST", headers: json, body: "{}" })
        .then(function (response) { return response.json(); })
        .then(function (issued) {
          if (!issued.conversation_id || !issued.conversation_key) {
            item.sent = false;
            retryLater((issued.error && issued.error.retry_after) || 5);
            return;
          }
          if (!state.cid) adopt(issued.conversation_id, issued.conversation_key);
          setOffline(false);
          post(item);
        })
        .catch(lost);
      return;
    }
    var body = frame(item);
    body.conversation_id = state.cid;
    body.conversation_key = state.key;
    fetch(service + "/api/chat", { method: "POST", headers: json, body: JSON.stringify(body) })
      .then(function (response) { return response.json(); })
      .then(function (reply) { setOffline(false); answered(reply); })
      .catch(lost);
  }

  function setOffline(lost) {
    if (connectionLost !== lost) { connectionLost = lost; drawStatus(); }
  }

  function onEvent(event) {
    switch (event.type) {
      case "history":
        if (event.conversation_key && !adopt(event.conversation_id, event.conversation_key)) {
          return hello(socket); // another page holds this buyer's conversation: join it
        }
        if (event.language && !data.locale) setLanguage(event.language);
        event.messages.forEach(function (m) { show(m, true); });
        setPerson(!!event.with_person, event.agent);
        socket.helloDone = true;
        flush();
        break;
      case "reply":
      case "error":
        if (event.client_msg_id) answered(event);
        else if (event.code === "conversation_not_yours") newConversation();
        else if (event.code === "throttled") {
          var me = socket; // a hello refused: say it again when allowed
          setTimeout(function () { if (socket === me && !me.helloDone) hello(me); }, Math.max(1, event.retry_after || 1) * 1000);
        }
        break;
      case "messages":
        event.messages.forEach(function (m) { show(m, true); });
        break;
      case "person_joined":
        setPerson(true, event.agent);
        show({ id: event.id, sender: "system", text: event.text }, true);
        break;
      case "staff_message":
        personTypingUntil = 0;
        if (!withPerson) setPerson(true, event.agent);
        show(event, true);
        drawTyping();
        break;
      case "bot_message":
        setPerson(false, "");
        show(event, true);
        break;
      case "typing":
        personTypingUntil = Date.now() + 5000;
        agent = event.agent || agent;
        drawTyping();
        setTimeout(drawTyping, 5100);
        break;
    }
  }

  function hello(ws) {
    if (!ws || ws.readyState !== 1) return;
    var body = { type: "hello", after: lastId };
    if (state.cid) { body.conversation_id = state.cid; body.conversation_key = state.key; }
    if (token) body.customer_token = token;
    ws.send(JSON.stringify(body));
  }

  function connect() {
    var url = service.replace(/^http/, "ws") + "/ws/chat";
    var opened = false;
    try {
      socket = new WebSocket(url);
    } catch (e) {
      return fallBack();
    }
    var me = socket;
    socket.onopen = function () {
      opened = true;
      everOpened = true;
      failures = 0;
      setOffline(false);
      hello(me);
    };
    socket.onmessage = function (message) {
      if (message.data === "pong") return;
      try { onEvent(JSON.parse(message.data)); } catch (e) { /* a frame we do not know: ignore */ }
    };
    socket.onclose = function () {
      if (socket !== me) return;
      socket = null;
      state.outbox.forEach(function (m) { m.sent = false; }); // sent again, same ids
      if (!opened) failures += 1;
      // Never connected in this page: WebSockets are blocked here, use HTTP. Connected
      // before: the service is restarting or the network is gone; keep trying.
      if (!everOpened && failures >= 3) return fallBack();
      if (state.outbox.length || failures) setOffline(true);
      setTimeout(connect, Math.min(8000, 500 * Math.pow(2, failures)));
    };
  }

  /** WebSockets blocked (a proxy, a firewall): send over HTTP, poll for what staff send. */
  function fallBack() {
    mode = "http";
    setOffline(false);
    flush();
    var poll = function () {
      if (!state.cid) return; // nothing to read before the first message starts the conversation
      var headers = { "Content-Type": "application/json" };
      if (token) headers["X-Customer-Token"] = token;
      var body = JSON.stringify({ conversation_id: state.cid, conversation_key: state.key, after: lastId });
      fetch(service + "/api/chat/history", { method: "POST", headers: headers, body: body })
        .then(function (response) { return response.json(); })
        .then(function (body) {
          setOffline(false);
          if (body.error && body.error.code === "conversation_not_yours") return newConversation();
          (body.messages || []).forEach(function (m) { show(m, true); });
          setPerson(!!body.with_person, body.agent);
        })
        .catch(function () { setOffline(true); });
    };
    poll();
    clearInterval(pollTimer);
    pollTimer = setInterval(poll, 3000);
  }

  // --- start ----------------------------------------------------------------------
  function start() {
    fetch(service + "/api/widget/config")
      .then(function (response) { return response.json(); })
      .then(function (body) {
        config = body;
        lang = pickLanguage(data.locale) || pickLanguage(state.lang) || pickLanguage(navigator.language) || "en";
        build();
        relabel();
        if (state.open) setOpen(true);
        state.outbox.forEach(function (item) { item.sent = false; showPending(item); });
        if (window.WebSocket && data.transport !== "http") connect();
        else fallBack();
        setInterval(function () { if (socket && socket.readyState === 1) socket.send("ping"); }, 25000);
      })
      .catch(function () { setTimeout(start, 10000); }); // the service is down: try again later
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && panel && state.open) { unread = 0; markSeen(); drawBadge(); }
  });

  window.StoreAssistant = {
    open: function () { if (panel) setOpen(true); },
    close: function () { if (panel) setOpen(false); },
  };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
