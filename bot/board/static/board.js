// The pipeline board: draws what /app/api/ answers, sends what the person does. Every
// request carries the credential (Telegram's initData, or a link's token); the server
// decides who that is. User text only ever goes into the page as textContent.

const tg = window.Telegram && window.Telegram.WebApp;
const params = new URLSearchParams(location.search);
if (params.get("t")) {
  sessionStorage.setItem("board-token", params.get("t"));
  history.replaceState(null, "", location.pathname);
}
const token = sessionStorage.getItem("board-token");
const credential = tg && tg.initData ? "tma " + tg.initData : token ? "Bearer " + token : "";

const $ = (id) => document.getElementById(id);
const state = { who: "", tag: "", q: "", shown: null, board: null, loading: 0 };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== "") {
      node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
    }
  }
  return node;
}

async function api(path, options = {}) {
  const response = await fetch("api/" + path, {
    ...options,
    headers: { Authorization: credential, "Content-Type": "application/json" },
  });
  if (response.status === 401) {
    denied();
    throw new Error("denied");
  }
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function denied() {
  for (const id of ["board", "nearby"]) $(id).hidden = true;
  document.querySelector(".bar").hidden = true;
  $("denied").hidden = false;
}

function query(extra = {}) {
  const wanted = { who: state.who, tag: state.tag, q: state.q, ...extra };
  return new URLSearchParams(Object.entries(wanted).filter(([, v]) => v !== "")).toString();
}

function toast(message, error = false) {
  const box = $("toast");
  box.textContent = message;
  box.className = error ? "toast error" : "toast";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, error ? 6000 : 3500);
}

function actionKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// --- the board ------------------------------------------------------------------------

function skeleton() {
  const board = $("board");
  board.replaceChildren();
  const column = el("section", { class: "column shown" });
  for (let i = 0; i < 4; i++) column.append(el("div", { class: "skeleton" }));
  board.append(column);
}

async function load() {
  const ticket = ++state.loading;
  $("board").setAttribute("aria-busy", "true");
  let data;
  try {
    data = await api("board?" + query());
  } catch (error) {
    if (error.message !== "denied") toast(error.message, true);
    return;
  }
  if (ticket !== state.loading) return; // a newer load is under way
  state.board = data;
  state.who = data.who;
  draw();
  $("board").setAttribute("aria-busy", "false");
}

function draw() {
  const data = state.board;
  const who = $("who");
  who.replaceChildren(el("option", { value: "mine" }, "Mine"));
  if (data.members.length) {
    who.append(el("option", { value: "team" }, "Team"));
    for (const member of data.members) who.append(el("option", { value: String(member.id) }, member.name));
  }
  who.value = data.who;
  who.disabled = !data.members.length;
  $("note").textContent = data.note;
  $("note").hidden = !data.note;
  const columns = data.columns;
  if (!columns.some((c) => c.id === state.shown)) state.shown = (columns.find((c) => c.kind === "open") || columns[0]).id;
  const chips = $("chips");
  chips.replaceChildren();
  const board = $("board");
  board.replaceChildren();
  for (const column of columns) {
    chips.append(chip(column));
    board.append(columnNode(column));
  }
}

function chip(column) {
  const drop = el("div", { class: "drop cards-target", "data-stage": column.id });
  const node = el(
    "button",
    {
      type: "button",
      class: `chip ${column.kind}`,
      "data-stage": column.id,
      "aria-current": String(column.id === state.shown),
      onclick: () => { state.shown = column.id; draw(); },
    },
    `${column.name} · ${column.count}`,
    drop,
  );
  sortable(drop, { chip: node });
  return node;
}

function columnNode(column) {
  const closed = column.kind !== "open";
  const cards = el("div", { class: "cards cards-target", "data-stage": column.id });
  for (const card of column.cards) cards.append(cardNode(card));
  if (!column.cards.length) cards.append(el("p", { class: "empty" }, closed ? `None in ${state.board.period}` : "No deals"));
  const totals = column.totals.map((t) => `${t.total} · weighted ${t.weighted}`).join(" + ");
  const node = el(
    "section",
    { class: `column ${closed ? "closed" : ""} ${column.id === state.shown ? "shown" : ""}`, "data-stage": column.id },
    el(
      "header",
      { onclick: () => node.classList.toggle("open") },
      el("h2", {}, `${column.name} (${column.count})${closed ? " · " + state.board.period : ""}`),
      el("div", { class: "totals" }, totals),
    ),
    cards,
  );
  sortable(cards, {});
  if (column.next) watchMore(node, cards, column);
  return node;
}

function cardNode(card) {
  const movable = card.mine || state.board.members.length > 0;
  const facts = [card.owner, `${card.days}d in stage`];
  const node = el(
    "article",
    {
      class: `card ${card.rotting ? "rotting" : ""} ${movable ? "" : "locked"}`,
      "data-id": card.id,
      onclick: () => openDeal(card.id),
    },
    el("div", { class: "top" }, el("span", { class: "title" }, card.title), el("span", { class: "amount" }, card.amount)),
    el("div", { class: "line" }, [card.contact, card.company].filter(Boolean).join(" · ") || "\u00a0"),
    el(
      "div",
      { class: "line" },
      card.rotting ? el("span", { class: "badge" }, "rotting · ") : "",
      facts.join(" · "),
      card.reminder ? ` · next: ${card.reminder}` : "",
    ),
  );
  return node;
}

function sortable(list, { chip }) {
  if (!window.Sortable) return;
  window.Sortable.create(list, {
    group: { name: "deals", pull: !chip, put: true },
    sort: false,
    filter: ".locked, .empty",
    forceFallback: true, // mouse and touch events: the same on phones, desktops and tests
    fallbackTolerance: 6,
    delay: 180,
    delayOnTouchOnly: true,
    onMove: (event) => {
      document.querySelectorAll(".chip.over").forEach((c) => c.classList.remove("over"));
      const target = event.to.closest(".chip");
      if (target) target.classList.add("over");
    },
    onAdd: (event) => {
      document.querySelectorAll(".chip.over").forEach((c) => c.classList.remove("over"));
      const deal = Number(event.item.dataset.id);
      if (chip) event.item.remove();
      move(deal, Number(list.dataset.stage));
    },
  });
}

function watchMore(node, cards, column) {
  const sentinel = el("div", { class: "more" });
  node.append(sentinel);
  let next = column.next;
  const observer = new IntersectionObserver(async (entries) => {
    if (!entries.some((e) => e.isIntersecting) || !next) return;
    const after = next;
    next = null;
    try {
      const page = await api("column?" + query({ stage: column.id, after }));
      for (const card of page.cards) cards.append(cardNode(card));
      next = page.next;
    } catch (error) {
      next = after;
      toast(error.message, true);
    }
    if (!next) observer.disconnect();
  });
  observer.observe(sentinel);
}

// --- acting ---------------------------------------------------------------------------

async function act(body) {
  try {
    const answer = await api("act", { method: "POST", body: JSON.stringify({ ...body, key: actionKey() }) });
    toast(answer.message, !answer.ok);
    if (tg && tg.HapticFeedback) tg.HapticFeedback.notificationOccurred(answer.ok ? "success" : "error");
    return answer.ok;
  } catch (error) {
    if (error.message !== "denied") toast(error.message, true);
    return false;
  } finally {
    load();
  }
}

function move(deal, stage) {
  return act({ action: "move", deal, stage });
}

// --- sheets ---------------------------------------------------------------------------

function openSheet(...children) {
  const sheet = $("sheet");
  sheet.replaceChildren(...children);
  sheet.hidden = false;
  $("sheet-shade").hidden = false;
  if (tg && tg.BackButton) tg.BackButton.show();
}

function closeSheet() {
  $("sheet").hidden = true;
  $("sheet-shade").hidden = true;
  if (tg && tg.BackButton && $("nearby").hidden) tg.BackButton.hide();
}

async function openDeal(id) {
  let deal;
  try {
    deal = await api("deal/" + id);
  } catch (error) {
    if (error.message !== "denied") toast(error.message, true);
    return;
  }
  const stage = deal.stages.find((s) => s.id === deal.stage);
  const facts = el("dl", {});
  const fact = (name, value) => { if (value) facts.append(el("dt", {}, name), el("dd", {}, value)); };
  fact("Amount", deal.amount);
  fact("Stage", stage ? `${stage.name} · ${deal.days}d` : "");
  if (deal.contact && deal.contact_id) {
    facts.append(el("dt", {}, "Contact"), el("dd", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); openContact(deal.contact_id); } }, deal.contact)));
  }
  fact("Company", deal.company);
  fact("Owner", deal.owner);
  fact("Phone", deal.phone);
  fact("Email", deal.email);
  fact("Closes", deal.closes);
  const write = (action, label, placeholder) => () => textSheet({ deal: deal.id }, deal.title, action, label, placeholder);
  const actions = el(
    "div",
    { class: "actions" },
    el("button", { type: "button", class: "primary", onclick: () => moveSheet(deal) }, "Move to…"),
    el("button", { type: "button", onclick: write("note", "Note", "What was said") }, "Note"),
    el("button", { type: "button", onclick: write("call", "Call", "How it went (optional)") }, "Call"),
    el("button", { type: "button", onclick: write("visit", "Visit", "How it went (optional)") }, "Visit"),
    el("button", { type: "button", onclick: write("remind", "Reminder", "tomorrow 9am send the offer") }, "Remind"),
    el("button", { type: "button", onclick: () => { closeSheet(); act({ action: "won", deal: deal.id }); } }, "Won"),
    el("button", { type: "button", onclick: write("lost", "Lost", "Why (optional)") }, "Lost"),
  );
  openSheet(el("h3", {}, deal.title), facts, actions, historyNodes(deal));
}

function moveSheet(deal) {
  const list = el("div", { class: "stages" });
  for (const stage of deal.stages) {
    list.append(
      el(
        "button",
        {
          type: "button",
          "aria-current": String(stage.id === deal.stage),
          onclick: () => { closeSheet(); move(deal.id, stage.id); },
        },
        stage.name,
      ),
    );
  }
  openSheet(el("h3", {}, `Move “${deal.title}” to…`), list);
}

function textSheet(target, title, action, label, placeholder) {
  const text = el("textarea", { placeholder, maxlength: "1000", "aria-label": label });
  const send = el(
    "button",
    {
      type: "button",
      class: "send",
      onclick: async () => {
        send.disabled = true; // pressed twice: sent once
        closeSheet();
        await act({ action, ...target, text: text.value });
      },
    },
    label,
  );
  openSheet(el("h3", {}, `${label}: ${title}`), text, send);
  text.focus();
}

async function openContact(id) {
  let contact;
  try {
    contact = await api("contact/" + id);
  } catch (error) {
    if (error.message !== "denied") toast(error.message, true);
    return;
  }
  const facts = el("dl", {});
  const fact = (name, value) => { if (value) facts.append(el("dt", {}, name), el("dd", {}, value)); };
  fact("Company", contact.company);
  fact("Title", contact.title);
  fact("Status", contact.status);
  fact("Phone", contact.phone);
  fact("Email", contact.email);
  fact("City", contact.city);
  fact("Tags", contact.tags.map((t) => "#" + t).join(" "));
  const write = (action, label, placeholder) => () => textSheet({ contact: contact.id }, contact.name, action, label, placeholder);
  const deals = el("ul", { class: "timeline" });
  for (const deal of contact.deals) deals.append(el("li", { onclick: () => openDeal(deal.id) }, `${deal.title}${deal.amount ? " · " + deal.amount : ""}`));
  openSheet(
    el("h3", {}, contact.name),
    facts,
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", onclick: write("note", "Note", "What was said") }, "Note"),
      el("button", { type: "button", onclick: write("call", "Call", "How it went (optional)") }, "Call"),
      el("button", { type: "button", onclick: write("visit", "Visit", "How it went (optional)") }, "Visit"),
      el("button", { type: "button", onclick: write("remind", "Reminder", "tomorrow 9am send the offer") }, "Remind"),
    ),
    contact.deals.length ? el("strong", {}, "Open deals") : "",
    deals,
    historyNodes(contact),
  );
}

function historyNodes(record) {
  const timeline = el("ul", { class: "timeline" });
  for (const item of record.timeline) timeline.append(el("li", {}, `${item.at} · ${item.kind} · ${item.who}${item.text ? ": " + item.text : ""}`));
  const reminders = el("ul", { class: "timeline" });
  for (const item of record.reminders) reminders.append(el("li", {}, `${item.at} · ${item.text}`));
  return el(
    "div",
    {},
    record.reminders.length ? el("strong", {}, "Reminders") : "",
    reminders,
    el("strong", {}, "Timeline"),
    timeline,
  );
}

// --- nearby ---------------------------------------------------------------------------

async function showNearby() {
  const nearbyShown = $("nearby").hidden;
  $("nearby").hidden = !nearbyShown;
  $("board").hidden = nearbyShown;
  $("chips").hidden = nearbyShown;
  $("nearby-toggle").textContent = nearbyShown ? "Board" : "Nearby";
  if (tg && tg.BackButton) nearbyShown ? tg.BackButton.show() : tg.BackButton.hide();
  if (!nearbyShown) return;
  const here = await position();
  let data;
  try {
    data = await api("nearby" + (here ? `?lat=${here[0]}&lon=${here[1]}` : ""));
  } catch (error) {
    if (error.message !== "denied") toast(error.message, true);
    return;
  }
  const list = $("nearby-list");
  list.replaceChildren();
  if (!data.origin) list.append(el("li", {}, "Share your location with the bot (📎 → Location) to see prospects near you."));
  else if (!data.contacts.length) list.append(el("li", {}, "No prospects within 25 km."));
  for (const c of data.contacts) {
    list.append(el("li", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); openContact(c.id); } }, c.name), ` · ${c.km} km${c.city ? " · " + c.city : ""} · ${c.status}`));
  }
  drawMap(data);
}

function position() {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) => resolve([p.coords.latitude, p.coords.longitude]),
      () => resolve(null),
      { timeout: 3000, maximumAge: 600000 },
    );
  });
}

function noMap() {
  $("map").hidden = true;
  $("map-note").hidden = false;
}

async function drawMap(data) {
  if (!data.origin || !navigator.onLine) return noMap();
  try {
    await leaflet();
  } catch {
    return noMap();
  }
  $("map").hidden = false;
  const L = window.L;
  if (state.map) state.map.remove();
  const map = (state.map = L.map("map").setView(data.origin, 12));
  let failed = 0;
  L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 19,
    attribution: "© OpenStreetMap contributors",
  })
    .on("tileerror", () => { if (++failed >= 2) noMap(); })
    .addTo(map);
  L.Icon.Default.imagePath = "static/vendor/leaflet/images/";
  for (const c of data.contacts) L.marker([c.lat, c.lon], { title: c.name }).addTo(map);
}

function leaflet() {
  if (window.L) return Promise.resolve();
  return new Promise((resolve, reject) => {
    document.head.append(el("link", { rel: "stylesheet", href: "static/vendor/leaflet/leaflet.css" }));
    document.head.append(el("script", { src: "static/vendor/leaflet/leaflet.js", onload: resolve, onerror: reject }));
  });
}

// --- start ----------------------------------------------------------------------------

function start() {
  if (!credential) return denied();
  if (tg) {
    tg.ready();
    tg.expand();
    tg.BackButton.onClick(() => { if (!$("sheet").hidden) closeSheet(); else if (!$("nearby").hidden) showNearby(); });
  }
  $("sheet-shade").addEventListener("click", closeSheet);
  $("nearby-toggle").addEventListener("click", showNearby);
  $("who").addEventListener("change", (e) => { state.who = e.target.value; load(); });
  let typing;
  $("filters").addEventListener("input", (e) => {
    if (e.target.id === "who") return;
    clearTimeout(typing);
    typing = setTimeout(() => { state.tag = $("tag").value.trim(); state.q = $("q").value.trim(); load(); }, 300);
  });
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  skeleton();
  load();
}

start();
