"use strict";
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// Labels: every visible text comes from /api/ui/labels/console (data/ui/console.yml),
// through staff-i18n.js: the same catalogue and language choice as the support console.
// ---------------------------------------------------------------------------
let staff = null;
let figures = null;
let failure = null;

setUpLanguage({
  signedIn: () => staff,
  redraw() {
    $("error").textContent = failure ? errorText(failure) : "";
    draw();
  },
});

// Codes the API sends, and the labels that show them.
const TIER_LABELS = { vip: "tier_vip", standard: "tier_standard" };
/** The CSAT breakdowns (``csat_by`` in the figures), in the order shown. */
const BREAKDOWN_LABELS = {
  language: "csat_by_language",
  tier: "csat_by_tier",
  staff: "csat_by_staff",
  topic: "csat_by_topic",
};
/** API error codes (bot/web/admin.py, bot/web/staff.py); others show the server's text. */
const ERROR_LABELS = {
  network: "error_network",
  unauthorized: "error_unauthorized",
  not_signed_in: "error_not_signed_in",
  forbidden: "error_admins_only",
  wrong_credentials: "error_wrong_credentials",
  too_many_attempts: "error_too_many_attempts",
  json_only: "error_bad_request",
  invalid_json: "error_bad_request",
  invalid_body: "error_bad_request",
  too_large: "error_too_large",
  bad_period: "error_bad_period",
  internal_error: "error_internal",
};

function errorText(error) {
  if (ERROR_LABELS[error.code]) return t(ERROR_LABELS[error.code]);
  return error.detail || t("error_server", { status: error.status });
}

/** Send a request; the JSON body, or {error: {status, code, detail}}. */
async function request(path, options = {}) {
  try {
    const response = await fetch(path, { credentials: "same-origin", ...options });
    const body = await response.json().catch(() => ({}));
    if (response.ok) return body;
    return { error: { status: response.status, ...(body.error || {}) } };
  } catch {
    return { error: { status: 0, code: "network" } };
  }
}

// Numbers, percentages and names in the interface language.
const number = (value) => (value === null || value === undefined ? "–" : new Intl.NumberFormat(i18n.language, { maximumFractionDigits: 1 }).format(value));
const percent = (value) => (value === null || value === undefined ? "–" : new Intl.NumberFormat(i18n.language, { style: "percent", maximumFractionDigits: 1 }).format(value / 100));

function languageName(code) {
  return nameOf("language", code);
}

/** How each breakdown's keys are shown. */
const GROUP_NAMES = {
  language: languageName,
  tier: (tier) => (TIER_LABELS[tier] ? t(TIER_LABELS[tier]) : tier),
  staff: (name) => (name === "bot" ? t("staff_bot") : name),
  topic: (topic) => topic,
};

// ---------------------------------------------------------------------------
// The figures
// ---------------------------------------------------------------------------
function el(parent, tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;  // never HTML
  if (className) node.className = className;
  parent.appendChild(node);
  return node;
}

function card(title) {
  const section = el($("figures"), "section");
  el(section, "h2", title);
  return section;
}

function bars(section, groups, name) {
  const entries = Object.entries(groups);
  if (!entries.length) { el(section, "p", t("no_ratings")); return; }
  for (const [key, value] of entries) {
    const row = el(section, "div", undefined, "bar");
    el(row, "span", name(key)).dir = "auto";
    const track = el(row, "div");
    const fill = el(track, "div", undefined, "fill");
    fill.style.width = `${value.csat || 0}%`;
    fill.setAttribute("role", "img");
    fill.setAttribute("aria-label", t("bar_label", { name: name(key), csat: percent(value.csat), ratings: number(value.ratings) }));
    el(row, "span", `${percent(value.csat)} (${number(value.ratings)})`);
  }
}

function draw() {
  $("figures").replaceChildren();
  const data = figures;
  if (!data) return;
  let c = card(t("card_conversations"));
  el(c, "p", number(data.conversations), "big");
  el(c, "p", t("conversations_detail", { share: percent(data.containment), escalations: number(data.escalations) }));
  c = card(t("card_first_response"));
  const fr = data.first_response;
  el(c, "p", percent(fr.within_target_share), "big");
  el(c, "p", t("first_response_detail", { answered: number(fr.answered), minutes: number(fr.median_minutes) }));
  c = card(t("card_csat"));
  el(c, "p", percent(data.csat.csat), "big");
  el(c, "p", t("csat_detail", { ratings: number(data.csat.ratings), average: number(data.csat.average) }));
  for (const [dimension, title] of Object.entries(BREAKDOWN_LABELS)) {
    bars(card(t(title)), data.csat_by[dimension], GROUP_NAMES[dimension]);
  }
  c = card(t("unanswered_title", { count: number(data.unanswered.questions) }));
  if (!data.unanswered.top_groups.length) el(c, "p", t("no_unanswered"));
  const list = el(c, "ol");
  for (const group of data.unanswered.top_groups) {
    const values = { example: group.example, count: number(group.count), language: languageName(group.language) };
    el(list, "li", t("unanswered_item", values)).dir = "auto";
  }
}

function query() {
  const params = new URLSearchParams();
  if ($("from").value) params.set("from", $("from").value);
  if ($("to").value) params.set("to", $("to").value);
  return params.toString();
}

function fail(error) {
  failure = error;
  $("error").textContent = error ? errorText(error) : "";
}

async function load() {
  fail(null);
  $("loading").hidden = false;
  const data = await request(`/api/admin/dashboard?${query()}`);
  $("loading").hidden = true;
  if (data.error && data.error.status === 401) {
    $("signin").hidden = false;
    $("period").hidden = true;
    return;
  }
  if (data.error) { fail(data.error); return; }
  $("signin").hidden = true;
  $("period").hidden = false;
  $("csv").href = `/api/admin/dashboard.csv?${query()}`;
  figures = data;
  draw();
}

/** Who is signed in (their language), if anyone. */
async function whoAmI() {
  const me = await request("/api/staff/me");
  staff = me.staff || null;
  adoptPickedLanguage(staff);
  applyLanguage(preferredLanguage(staff));
}

$("period").onsubmit = (event) => { event.preventDefault(); load(); };
$("signin").onsubmit = async (event) => {
  event.preventDefault();
  fail(null);
  const body = await request("/api/staff/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: $("email").value, password: $("password").value }),
  });
  if (body.error) { fail(body.error); return; }
  $("password").value = "";
  await whoAmI();
  await load();
};

(async () => {
  await loadLabels("dashboard");
  await whoAmI();
  await load();
})();
