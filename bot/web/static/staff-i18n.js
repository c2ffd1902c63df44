// The interface language of the staff pages (the console and the dashboard), loaded by
// both before their own script. Every visible text comes from /api/ui/labels/console
// (data/ui/console.yml); the choice is made in the page's #ui-language menu and
// remembered on this device and for each staff member.
//
// A page calls setUpLanguage({ signedIn, redraw }) once, loadLabels() at start, and
// applyLanguage(preferredLanguage(staff)) whenever who is signed in changes.
// Its own top-level names must not repeat the ones declared here (one global scope).
"use strict";

/** Each language's own name, for the language menu (as in bot/languages.py). */
const NATIVE_NAMES = {
  en: "English", zh: "中文", es: "Español", fr: "Français", de: "Deutsch",
  pt: "Português", ru: "Русский", ar: "العربية", ja: "日本語", ko: "한국어",
};
/** localStorage key of the chosen language; per staff member once signed in. */
const LANGUAGE_KEY = "staff_ui_language";
const i18n = { labels: {}, languages: ["en"], rtl: ["ar"], language: "en", pickedThisVisit: null };
/** What the page gave setUpLanguage. */
const staffPage = { signedIn: () => null, redraw: () => {} };

/** The label ``key`` in the current language, with {placeholders} filled from ``values``. */
function t(key, values = {}) {
  const text = (i18n.labels[i18n.language] || {})[key] ?? (i18n.labels.en || {})[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

/** A supported language code for a locale such as "pt-BR", else null. */
function supported(locale) {
  const code = String(locale || "").toLowerCase().split(/[-_]/)[0];
  return i18n.languages.includes(code) ? code : null;
}

/** Signed in: the staff member's own choice, else their first language; else this
 *  device's choice; then the browser's languages; then English. */
function preferredLanguage(staff) {
  const candidates = staff
    ? [localStorage.getItem(`${LANGUAGE_KEY}:${staff.id}`), ...(staff.languages || "").split(/\s+/)]
    : [localStorage.getItem(LANGUAGE_KEY)];
  candidates.push(...(navigator.languages || [navigator.language]), "en");
  return candidates.map(supported).find(Boolean);
}

function rememberLanguage(language, staff) {
  localStorage.setItem(LANGUAGE_KEY, language);
  if (staff) localStorage.setItem(`${LANGUAGE_KEY}:${staff.id}`, language);
}

/** On signing in: a language picked earlier in this visit becomes the staff member's own. */
function adoptPickedLanguage(staff) {
  if (staff && i18n.pickedThisVisit) localStorage.setItem(`${LANGUAGE_KEY}:${staff.id}`, i18n.pickedThisVisit);
}

/** Every language's labels, and the language menu; ``page`` names the page in the log. */
async function loadLabels(page) {
  try {
    const response = await fetch("/api/ui/labels/console?lang=all");
    const body = await response.json();
    if (!response.ok) throw new Error(response.statusText);
    Object.assign(i18n, { labels: body.labels, languages: body.languages, rtl: body.rtl });
  } catch (error) {
    console.error(`Could not load the ${page}'s labels`, error);
  }
  const menu = document.getElementById("ui-language");
  menu.replaceChildren();
  for (const code of i18n.languages) {
    const option = document.createElement("option");
    option.value = code;
    option.lang = code;
    option.textContent = NATIVE_NAMES[code] || code;
    menu.appendChild(option);
  }
}

/** Show the page in ``language``: direction, the labelled nodes, then the page's redraw. */
function applyLanguage(language) {
  i18n.language = language;
  document.documentElement.lang = language;
  document.documentElement.dir = i18n.rtl.includes(language) ? "rtl" : "ltr";
  document.getElementById("ui-language").value = language;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of document.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  staffPage.redraw();
}

/** ``signedIn()``: the staff member signed in, or null; ``redraw()``: re-renders the
 *  texts the page sets from code. A language picked in the menu is remembered and shown. */
function setUpLanguage({ signedIn, redraw }) {
  Object.assign(staffPage, { signedIn, redraw });
  const menu = document.getElementById("ui-language");
  menu.onchange = () => {
    const language = menu.value;
    i18n.pickedThisVisit = language;
    rememberLanguage(language, staffPage.signedIn());
    applyLanguage(language);
  };
}

/** A language's or region's name in the interface language (Intl), else its code. */
function nameOf(type, code) {
  try {
    return new Intl.DisplayNames([i18n.language], { type }).of(code) || code;
  } catch {
    return code;
  }
}

/** Names, numbers and addresses kept in their own direction inside a sentence (e.g. Latin in Arabic). */
const isolate = (text) => `\u2068${text}\u2069`;
