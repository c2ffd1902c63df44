"use strict";
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// Labels: every visible text comes from /api/ui/labels/console (data/ui/console.yml),
// through staff-i18n.js (t, the language menu and choice, applyLanguage).
// ---------------------------------------------------------------------------
/** Texts set from code, by element id: re-rendered when the language changes. */
const spoken = new Map();
function say(id, render) {
  if (render) spoken.set(id, render);
  else spoken.delete(id);
  $(id).textContent = render ? render() : "";
}

setUpLanguage({
  signedIn: () => state.staff,
  redraw() {
    for (const [id, render] of spoken) $(id).textContent = render();
    if (state.staff) {
      drawQueue();
      drawContext();
      drawCanned();
      drawMembers();
    }
  },
});

// Codes the API sends, and the labels that show them.
const ROLE_LABELS = { agent: "role_agent", manager: "role_manager", admin: "role_admin" };
const TIER_LABELS = { vip: "tier_vip", standard: "tier_standard" };
const STATUS_LABELS = { queued: "status_queued", claimed: "status_claimed", resolved: "status_resolved" };
const REASON_LABELS = {
  request_human: "reason_request_human",
  complain: "reason_complain",
  offer_accepted: "reason_offer_accepted",
  not_helpful: "reason_not_helpful",
  delivered_not_received: "reason_delivered_not_received",
  order_change: "reason_order_change",
};
const ORDER_STATUS_LABELS = {
  pending: "order_status_pending",
  paid: "order_status_paid",
  processing: "order_status_processing",
  shipped: "order_status_shipped",
  in_transit: "order_status_in_transit",
  customs: "order_status_customs",
  out_for_delivery: "order_status_out_for_delivery",
  delivered: "order_status_delivered",
  delayed: "order_status_delayed",
  exception: "order_status_exception",
  cancelled: "order_status_cancelled",
  returned: "order_status_returned",
  refunded: "order_status_refunded",
};
/** API error codes (bot/web/staff.py, bot/web/console.py); others show the server's text. */
const ERROR_LABELS = {
  network: "error_network",
  not_signed_in: "error_not_signed_in",
  forbidden: "error_forbidden",
  csrf: "error_csrf",
  json_only: "error_bad_request",
  invalid_json: "error_bad_request",
  invalid_body: "error_bad_request",
  too_large: "error_too_large",
  wrong_credentials: "error_wrong_credentials",
  too_many_attempts: "error_too_many_attempts",
  not_found: "error_not_found",
  already_taken: "error_already_taken",
  not_yours: "error_not_yours",
  unknown_canned: "error_unknown_canned",
  empty: "error_empty",
  too_long: "error_too_long",
  invalid_note: "error_invalid_note",
  cannot_transfer: "error_cannot_transfer",
  cannot_resolve: "error_cannot_resolve",
  internal_error: "error_internal",
};

/** A code shown through one of the maps above; an unknown code is shown as it is. */
function named(labels, code) {
  return labels[code] ? t(labels[code]) : String(code ?? "–");
}

/** A language's or country's name in the interface language (Intl), else its code. */
function displayName(type, code) {
  return code ? nameOf(type, code) : "–";
}

function listOf(items) {
  try {
    return new Intl.ListFormat(i18n.language, { style: "short", type: "unit" }).format(items);
  } catch {
    return items.join(", ");
  }
}

// ---------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || code || String(status));
    Object.assign(this, { status, code, detail });
  }
}

let csrf = sessionStorage.getItem("csrf") || "";

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf };
  let response;
  try {
    response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = body.error || {};
    throw new ApiError(response.status, error.code, error.detail);
  }
  return body;
}

/** An error in the interface language: known codes are translated, else the server's words. */
function errorText(error) {
  if (!(error instanceof ApiError)) return error.message;
  if (ERROR_LABELS[error.code]) return t(ERROR_LABELS[error.code]);
  return error.detail || t("error_server", { status: error.status });
}

// ---------------------------------------------------------------------------
// The console
// ---------------------------------------------------------------------------
const state = { staff: null, queue: [], selected: null, detail: null, members: [], canned: {} };
/** Buyer message ids already shown: a retried push must not show a message twice. */
const shownMessageIds = new Set();

function line(parent, text, className) {
  const div = document.createElement("div");
  div.textContent = text;  // never HTML
  if (className) div.className = className;
  parent.appendChild(div);
  return div;
}

function option(select, value, text) {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = text;
  select.appendChild(node);
  return node;
}

function timeLeft(seconds) {
  const s = Math.abs(seconds);
  const time = s >= 3600
    ? t("duration_hours", { hours: Math.floor(s / 3600), minutes: Math.floor((s % 3600) / 60) })
    : t("duration_minutes", { minutes: Math.floor(s / 60), seconds: s % 60 });
  return seconds < 0 ? t("time_late", { time }) : t("time_left", { time });
}

const late = (e) => e.seconds_left < 0;

/** The queue's order: late ones first (they need someone now), then as the server
 *  orders it: highest priority, nearest deadline, oldest. */
function sortQueue() {
  state.queue.sort((a, b) =>
    Number(late(b)) - Number(late(a))
    || b.priority - a.priority
    || Date.parse(a.due_at) - Date.parse(b.due_at)
    || a.id - b.id);
}

function drawQueue() {
  const list = $("queue");
  list.replaceChildren();
  $("queue-empty").hidden = state.queue.length > 0;
  for (const e of state.queue) {
    const item = line(list, "", "item");
    item.setAttribute("role", "listitem");
    item.dataset.id = String(e.id);
    item.tabIndex = 0;
    item.classList.toggle("current", e.id === state.selected);
    item.classList.toggle("overdue", late(e));
    const parts = [isolate(`#${e.id}`), displayName("language", e.language), named(REASON_LABELS, e.reason)];
    if (e.order_number) {  // a number only typed may be a stranger's: say so
      const number = { number: isolate(e.order_number) };
      parts.push(e.order_verified ? t("queue_order", number) : t("queue_order_unverified", number));
    }
    line(item, parts.join(" · "));
    line(item, named(TIER_LABELS, e.tier), e.tier === "vip" ? "vip" : "");
    e.countdown = line(item, "");
    drawCountdown(e);
    item.onclick = () => act(() => openEscalation(e.id));
    item.onkeydown = (event) => { if (event.key === "Enter") act(() => openEscalation(e.id)); };
  }
}

function drawCountdown(e) {
  e.countdown.textContent = `${named(STATUS_LABELS, e.status)} · ${timeLeft(e.seconds_left)}`;
  e.countdown.className = e.seconds_left < 0 ? "late" : "";
}

async function loadQueue() {
  state.queue = (await api("/api/staff/escalations")).escalations;
  sortQueue();
  drawQueue();
}

/** A new or newly late escalation pushed by the server: added to the queue, or the
 *  entry updated, in place (no reload of the whole queue). */
function upsertEscalation(escalation, kind) {
  // Pushed as it passes its target: the server's whole seconds may still round to 0.
  if (kind === "overdue") escalation.seconds_left = Math.min(escalation.seconds_left, -1);
  const at = state.queue.findIndex((e) => e.id === escalation.id);
  if (at >= 0) state.queue[at] = escalation;
  else state.queue.push(escalation);
  sortQueue();
  drawQueue();
  const id = isolate(`#${escalation.id}`);
  say("queue-news", () => (kind === "overdue" ? t("queue_news_overdue", { id }) : t("queue_news_new", { id })));
}

/** Whether the open conversation is claimed by the signed-in staff member (their queue
 *  holds only their own claimed conversations). */
function mine() {
  const e = state.detail && state.detail.escalation;
  return Boolean(e && e.status === "claimed" && state.queue.some((q) => q.id === e.id && q.status === "claimed"));
}

async function openEscalation(id) {
  if (id !== state.selected) {
    $("reply").value = "";
    $("note").value = "";
    say("notice", null);
  }
  state.selected = id;
  state.detail = await api(`/api/staff/escalations/${id}`);
  drawDetail();
  drawQueue();
  if (mine()) await loadMembers();
}

function closeEscalation() {
  state.selected = null;
  state.detail = null;
  drawDetail();
  drawQueue();
}

function drawDetail() {
  const d = state.detail;
  $("detail-empty").hidden = Boolean(d);
  $("detail").hidden = !d;
  if (!d) return;
  drawContext();
  const transcript = $("transcript");
  transcript.replaceChildren();
  for (const m of d.transcript) {
    line(transcript, m.shown || m.text, `msg ${m.sender}`).dir = "auto";
    const id = m.message_id ?? m.id;
    if (id != null) shownMessageIds.add(id);
  }
  transcript.scrollTop = transcript.scrollHeight;
  const notes = $("notes");
  notes.replaceChildren();
  for (const n of d.notes) {
    const note = line(notes, t("note_line", { name: isolate(n.by), text: isolate(n.text) }));
    note.setAttribute("role", "listitem");
  }
  const status = d.escalation.status;
  $("claim").hidden = status !== "queued";
  $("resolve").hidden = $("transfer").hidden = $("mine").hidden = !mine();
}

function drawContext() {
  const d = state.detail;
  if (!d) return;
  const c = d.customer;
  const parts = [t("context_language", { language: displayName("language", d.detected_language) })];
  if (c) {
    const orders = c.orders.map((o) => `${isolate(o.number)} (${named(ORDER_STATUS_LABELS, o.status)})`);
    parts.push(
      isolate(`${c.name} <${c.email}>`),
      named(TIER_LABELS, c.tier),
      displayName("region", c.country),
      orders.length ? t("customer_orders", { orders: listOf(orders) }) : t("customer_no_orders"),
    );
  } else {
    parts.push(t("anonymous_buyer"));
  }
  $("context").textContent = parts.join(" · ");
}

/** Canned replies are listed in the interface language; the buyer gets theirs. */
function drawCanned() {
  const select = $("canned");
  const chosen = select.value;
  select.replaceChildren();
  option(select, "", t("canned_choose"));
  for (const [id, texts] of Object.entries(state.canned)) option(select, id, texts[i18n.language] || texts.en);
  select.value = chosen;
}

async function loadMembers() {
  const { members } = await api("/api/staff/members");
  state.members = members.filter((m) => m.id !== state.staff.id);
  drawMembers();
}

function availability(member) {
  if (!member.on_duty) return t("member_off_duty");
  return member.online ? t("member_online") : t("member_offline");
}

/** Colleagues to transfer to: those online and on duty first. */
function drawMembers() {
  const select = $("transfer-to");
  const chosen = select.value;
  select.replaceChildren();
  option(select, "", state.members.length ? t("transfer_choose") : t("transfer_nobody"));
  const around = (m) => (m.on_duty && m.online ? 0 : 1);
  const members = [...state.members].sort((a, b) => around(a) - around(b) || a.name.localeCompare(b.name));
  for (const m of members) {
    const languages = (m.languages || "").split(/\s+/).filter(Boolean).map((code) => code.toUpperCase());
    option(select, String(m.id), t("member_option", {
      name: m.name,
      role: named(ROLE_LABELS, m.role),
      languages: languages.join(" ") || "–",
      availability: availability(m),
    }));
  }
  select.value = members.some((m) => String(m.id) === chosen) ? chosen : "";
  $("transfer-person").disabled = !select.value;
}

/** Run an action, showing what went wrong in the interface language. */
async function act(action) {
  say("error", null);
  try {
    await action();
  } catch (error) {
    if (error instanceof ApiError && ["not_signed_in", "csrf"].includes(error.code)) {
      showSignIn(() => errorText(error));
    } else {
      say("error", () => errorText(error));
    }
  }
}

const post = (path, body) => api(path, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body) });
const escalationPath = (action) => `/api/staff/escalations/${state.selected}/${action}`;

$("claim").onclick = () => act(async () => {
  say("notice", null);
  await post(escalationPath("claim"));
  await loadQueue();
  await openEscalation(state.selected);
});
$("resolve").onclick = () => act(async () => {
  await post(escalationPath("resolve"));
  await loadQueue();
  await openEscalation(state.selected);
  say("notice", () => t("notice_resolved"));
});
$("transfer").onclick = () => act(async () => {
  await post(escalationPath("transfer"), { to: null });
  await loadQueue();
  await openEscalation(state.selected);
  say("notice", () => t("notice_returned"));
});
$("transfer-to").onchange = () => { $("transfer-person").disabled = !$("transfer-to").value; };
$("transfer-person").onclick = () => act(async () => {
  const member = state.members.find((m) => String(m.id) === $("transfer-to").value);
  if (!member) return;
  await post(escalationPath("transfer"), { to: member.id });
  closeEscalation();
  await loadQueue();
  say("notice", () => t("notice_transferred", { name: isolate(member.name) }));
});
$("send").onclick = () => act(async () => {
  await post(escalationPath("reply"), { text: $("reply").value });
  $("reply").value = "";
  await openEscalation(state.selected);
});
$("send-canned").onclick = () => act(async () => {
  if (!$("canned").value) return;
  await post(escalationPath("reply"), { canned: $("canned").value });
  await openEscalation(state.selected);
});
$("add-note").onclick = () => act(async () => {
  await post(escalationPath("notes"), { text: $("note").value });
  $("note").value = "";
  await openEscalation(state.selected);
});

// ---------------------------------------------------------------------------
// Live updates over /ws/staff, and the typing indicator the buyer sees
// ---------------------------------------------------------------------------
const TYPING_EVERY_MS = 2000;
let socket = null;
let lastTypingSent = 0;

function listen() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/staff`);
  socket = ws;
  const ping = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send("ping"), 60000);
  const refresh = () => loadQueue().catch((error) => console.warn("Could not refresh the queue", error));
  ws.onopen = () => {
    say("live", null);
    refresh();  // whatever came while the socket was not there yet (or was reconnecting)
  };
  ws.onmessage = (event) => {
    if (event.data === "pong") return;
    const data = JSON.parse(event.data);
    if (data.type === "error") return;  // e.g. a server that does not know "typing" yet
    if (data.type === "escalation" || data.type === "overdue") {
      upsertEscalation(data.escalation, data.type);
      return;
    }
    if (data.type === "buyer_message") showBuyerMessage(data);
    refresh();
  };
  ws.onclose = () => {
    clearInterval(ping);
    if (socket !== ws) return;  // signed out
    socket = null;
    say("live", () => t("live_reconnecting"));
    setTimeout(() => { if (state.staff && !socket) listen(); }, 3000);
  };
}

function stopListening() {
  const ws = socket;
  socket = null;
  if (ws) ws.close();
  say("live", null);
}

function showBuyerMessage(data) {
  if (data.message_id != null) {
    if (shownMessageIds.has(data.message_id)) return;  // the same message pushed again
    shownMessageIds.add(data.message_id);
  }
  if (data.escalation_id !== state.selected) return;
  const transcript = $("transcript");
  line(transcript, data.text, "msg buyer").dir = "auto";
  transcript.scrollTop = transcript.scrollHeight;
}

$("reply").addEventListener("input", () => {
  if (!mine() || !$("reply").value.trim() || !socket || socket.readyState !== WebSocket.OPEN) return;
  const now = Date.now();
  if (now - lastTypingSent < TYPING_EVERY_MS) return;
  lastTypingSent = now;
  socket.send(JSON.stringify({ type: "typing", escalation_id: state.selected }));
});

// ---------------------------------------------------------------------------
// Signing in and out
// ---------------------------------------------------------------------------
let ticker = null;

async function start(staff) {
  adoptPickedLanguage(staff);
  Object.assign(state, { staff, queue: [], selected: null, detail: null, members: [] });
  say("who", () => t("signed_in_as", { name: isolate(staff.name), role: named(ROLE_LABELS, staff.role) }));
  say("signin-error", null);
  $("signin").hidden = true;
  $("console").hidden = false;
  $("sign-out").hidden = false;
  state.canned = (await api("/api/staff/canned")).replies;
  applyLanguage(preferredLanguage(staff));
  drawDetail();
  await loadQueue();
  clearInterval(ticker);
  ticker = setInterval(() => {
    let turnedLate = false;
    for (const e of state.queue) {
      e.seconds_left -= 1;
      turnedLate ||= e.seconds_left === -1;
      if (e.countdown) drawCountdown(e);
    }
    if (turnedLate) {  // to the top, even before the server's "overdue" arrives
      sortQueue();
      drawQueue();
    }
  }, 1000);
  if (!socket) listen();
}

/** Back to the sign-in form (signed out, or the session ended), with an optional reason. */
function showSignIn(reason) {
  state.staff = null;
  clearInterval(ticker);
  stopListening();
  say("who", null);
  say("error", null);
  say("notice", null);
  say("queue-news", null);
  say("signin-error", reason || null);
  $("console").hidden = true;
  $("sign-out").hidden = true;
  $("signin").hidden = false;
  applyLanguage(preferredLanguage(null));
}

$("sign-out").onclick = async () => {
  await post("/api/staff/logout").catch(() => {});  // an expired session is signed out already
  csrf = "";
  sessionStorage.removeItem("csrf");
  showSignIn();
};

$("signin-form").onsubmit = (event) => {
  event.preventDefault();
  say("signin-error", null);
  post("/api/staff/login", { email: $("email").value, password: $("password").value })
    .then((body) => {
      csrf = body.csrf_token;
      sessionStorage.setItem("csrf", csrf);
      $("password").value = "";
      return start(body.staff);
    })
    .catch((error) => say("signin-error", () => errorText(error)));
};

(async () => {
  await loadLabels("console");
  applyLanguage(preferredLanguage(null));
  try {
    await start((await api("/api/staff/me")).staff);
  } catch {
    showSignIn();
  }
})();
