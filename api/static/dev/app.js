// The development page: sign in, see a workspace's billing, buy, poll, open the portal.
// Plain ES modules, no build step; it talks only to this API (the emulator through its relay).
import {
  API, DEV, INTERVALS, PLANS, POLL_MS, PORTAL_REFRESH_SECONDS,
  ApiFailure, call, describe, saved, uuid,
} from "./api.js";

const $ = (id) => document.getElementById(id);
const state = { demo: null, workspaces: [], billing: null, plans: [], polling: false };

function showError(failure) {
  const box = $("message");
  box.replaceChildren(document.createTextNode(describe(failure) + " "));
  const code = document.createElement("code");
  code.textContent = `(${failure.code})`;
  box.append(code);
  box.dataset.code = failure.code;
  box.hidden = false;
}

function clearError() { $("message").hidden = true; $("message").dataset.code = ""; }

const title = (s) => (s ? s.charAt(0).toUpperCase() + s.slice(1) : "—");
const day = (iso) => (iso ? new Date(iso).toISOString().slice(0, 10) : "—");
const money = (cents, currency) =>
  `${currency === "usd" ? "$" : ""}${(cents / 100).toFixed(2)}` +
  `${currency === "usd" ? "" : " " + currency.toUpperCase()}`;
const grantsText = (grants) =>
  Object.keys(grants || {}).sort().map((k) => `${k}: ${grants[k]}`).join(", ") || "—";
const workspaceId = () => $("workspace-select").value;

// ---- sign-in and workspaces ----

function tokenUser(token) {
  try { return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub; }
  catch { return "unknown user"; }
}

async function signIn(token) {
  saved.token = token;
  clearError();
  await loadWorkspaces();
}

function signOut() {
  saved.token = null;
  $("signed-in").textContent = "Not signed in.";
  $("workspace").hidden = true;
  renderPlans();
}

async function loadWorkspaces() {
  let answer;
  try { answer = await call("GET", `${DEV}/workspaces`); }
  catch (failure) { showError(failure); if (failure.status === 401) signOut(); return; }
  state.workspaces = answer.workspaces;
  const demo = state.demo && saved.token === state.demo.demo_owner_token;
  $("signed-in").textContent = `Signed in as ${demo ? "the demo owner" : "user"} ` +
    `${tokenUser(saved.token)} · ${state.workspaces.length} workspace(s).`;
  const select = $("workspace-select");
  select.replaceChildren(...state.workspaces.map((w) => {
    const option = document.createElement("option");
    option.value = w.id;
    option.textContent = `${w.name} — ${title(w.plan)} · ${w.role}`;
    return option;
  }));
  if (!state.workspaces.length) {
    showError({ code: "NO_WORKSPACE", message: "This user belongs to no workspace." });
    return;
  }
  const wanted = state.workspaces.find((w) => w.id === saved.workspace);
  select.value = wanted ? wanted.id : state.workspaces[0].id;
  $("workspace").hidden = false;
  await selectWorkspace();
}

async function selectWorkspace() {
  saved.workspace = workspaceId();
  const query = `WorkspaceId = "${workspaceId()}"`;
  $("temporal-query").textContent = query;
  if (state.demo) {
    $("temporal-link").href = `${state.demo.temporal_ui_url}/namespaces/` +
      `${encodeURIComponent(state.demo.temporal_namespace)}/workflows?query=` +
      encodeURIComponent(query);
  }
  await loadBilling();
}

async function loadBilling() {
  let b;
  try { b = await call("GET", `${API}/workspaces/${workspaceId()}/billing`); }
  catch (failure) { showError(failure); return null; }
  state.billing = b;
  $("plan").textContent = title(b.plan);
  $("status").textContent = b.subscription_status || "—";
  $("interval").textContent = b.interval || "—";
  $("period-label").textContent = b.cancel_at_period_end ? "Cancels on" : "Current period ends";
  $("period-end").textContent = day(b.current_period_end);
  $("grace").textContent = b.grace_period_end
    ? `until ${day(b.grace_period_end)} — the last payment failed; the plan stays until then`
    : "none";
  $("grants").textContent = grantsText(b.grants);
  $("pending").textContent = b.pending_checkout
    ? `${title(b.pending_checkout.plan_slug)} ${b.pending_checkout.interval} ` +
      `(${b.pending_checkout.id})`
    : "none";
  const option = $("workspace-select").selectedOptions[0];
  const known = state.workspaces.find((w) => w.id === b.workspace_id);
  if (option && known) option.textContent = `${known.name} — ${title(b.plan)} · ${known.role}`;
  renderPlans();
  return b;
}

// ---- pricing, checkout and portal ----

async function loadPlans() {
  try { state.plans = (await call("GET", `${API}/plans`, { auth: false })).plans; }
  catch (failure) { showError(failure); }
  renderPlans();
  $("pricing").hidden = false;
}

function renderPlans() {
  const rows = PLANS.map((plan) => {
    const tr = document.createElement("tr");
    tr.className = state.billing && state.billing.plan === plan ? "current" : "";
    const name = document.createElement("td");
    name.textContent = title(plan);
    tr.append(name);
    for (const interval of INTERVALS) {
      const td = document.createElement("td");
      const variant = state.plans.find((p) => p.plan === plan && p.interval === interval);
      const price = document.createElement("span");
      price.className = "price";
      price.textContent = variant
        ? `${money(variant.amount, variant.currency)} / ${interval === "monthly" ? "month" : "year"}`
        : "not in the catalog";
      const grants = document.createElement("span");
      grants.className = "grants";
      grants.textContent = variant ? grantsText(variant.grants) : "";
      const buy = document.createElement("button");
      buy.type = "button";
      buy.className = "primary buy";
      buy.id = `buy-${plan}-${interval}`;
      buy.textContent = `Buy ${title(plan)} ${interval}`;
      buy.disabled = !saved.token || $("workspace").hidden;
      buy.addEventListener("click", () => startCheckout(plan, interval));
      td.append(price, grants, buy);
      tr.append(td);
    }
    return tr;
  });
  $("pricing-table").tBodies[0].replaceChildren(...rows);
}

async function startCheckout(plan, interval) {
  clearError();
  document.querySelectorAll("button.buy").forEach((b) => { b.disabled = true; });
  const workspace = workspaceId();
  try {
    // A fresh key per click: a retry of this click would reuse it, a new click must not.
    const session = await call("POST", `${API}/workspaces/${workspace}/checkout-session`, {
      body: { plan_slug: plan, interval }, idempotencyKey: uuid(),
    });
    saved.checkout = { workspace_id: workspace, session_id: session.id, plan, interval,
      started: Date.now() };
    window.location.assign(session.url);
  } catch (failure) {
    showError(failure);
    renderPlans();
  }
}

async function openPortal() {
  clearError();
  $("manage").disabled = true;
  try {
    const portal = await call("POST", `${API}/workspaces/${workspaceId()}/portal-session`, {
      idempotencyKey: uuid(),
    });
    window.location.assign(portal.url);
  } catch (failure) {
    showError(failure);
  } finally {
    $("manage").disabled = false;
  }
}

// ---- the return views ----

function showReturn(status, tone, text, detail, offerBack) {
  const box = $("return");
  box.hidden = false;
  box.dataset.tone = tone;
  $("return-status").dataset.status = status;
  $("return-status").textContent = text;
  $("return-detail").textContent = detail;
  $("return-back").hidden = !offerBack;
}

function backToPlans() {
  $("return").hidden = true;
  saved.checkout = null;
  window.history.replaceState(null, "", "/");
  $("pricing").scrollIntoView();
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function pollCheckout(sessionId) {
  const inFlight = saved.checkout;
  const mine = inFlight && inFlight.session_id === sessionId ? inFlight : null;
  if (mine && state.workspaces.some((w) => w.id === mine.workspace_id)) {
    $("workspace-select").value = mine.workspace_id;
    await selectWorkspace();
  }
  const workspace = workspaceId();
  const started = mine ? mine.started : Date.now();
  const threshold = state.demo ? state.demo.checkout_pending_reconcile_seconds : 30;
  state.polling = true;
  $("return-title").textContent = "Your purchase";
  showReturn("checking", "wait", "Checking your payment with Stripe…",
    "Coming back from checkout proves nothing by itself: the status route decides.", false);
  // The redirect from Stripe proves nothing: only the status route says what was paid.
  while (state.polling) {
    let answer;
    try {
      answer = await call("GET", `${API}/workspaces/${workspace}/checkout-session/${sessionId}`);
    } catch (failure) {
      showError(failure);
      if (failure.status && failure.status < 500 && failure.status !== 429) return;
      await sleep(POLL_MS * 2);
      continue;
    }
    clearError();
    const waited = Math.round((Date.now() - started) / 1000);
    $("settle-tools").hidden = answer.payment !== "processing";
    $("settle-tools").dataset.session = sessionId;
    if (answer.status === "confirmed") {
      const b = await loadBilling();
      saved.checkout = null;
      state.polling = false;
      showReturn("confirmed", "ok", `Payment confirmed — this workspace is now on ` +
        `${title(b ? b.plan : mine && mine.plan)}${b && b.interval ? ` (${b.interval})` : ""}.`,
        `Stripe confirmed subscription ${answer.subscription_id}.`, false);
      return;
    }
    if (answer.status === "expired" || answer.status === "failed") {
      state.polling = false;
      const expired = answer.status === "expired";
      showReturn(answer.status, "bad",
        expired ? "This checkout expired before it was paid." : "The payment failed.",
        (expired ? "" : `Reason: ${answer.reason || "payment_failed"}. `) +
          "Nothing was charged and the plan is unchanged. Pick a plan to start again.", true);
      await loadBilling();
      return;
    }
    if (answer.payment === "processing") {
      showReturn("processing", "wait", "Payment processing — your bank debit is on its way.",
        "The plan starts when the bank confirms the debit (days with a real bank). " +
        "You can leave this page.", false);
    } else if (answer.payment === "requires_action") {
      showReturn("requires_action", "wait", "Your payment needs one more step.",
        "Your bank asked to confirm the payment; follow the link in Stripe's email.", false);
    } else {
      const rescue = waited >= threshold
        ? ` No confirmation after ${waited} s: the service is now asking Stripe directly ` +
          "(reconcile), so a lost webhook cannot lose your purchase."
        : "";
      showReturn("pending", "wait", "Pending — waiting for Stripe to confirm your payment.",
        "You are back from checkout, but the plan changes only once Stripe confirms it." +
        rescue, false);
    }
    await refreshWebhooks();
    await sleep(POLL_MS);
  }
}

function showAbandoned() {
  const inFlight = saved.checkout;
  showReturn("abandoned", "bad", "Checkout abandoned — nothing was charged.",
    `You left Stripe's checkout${inFlight ? ` for ${title(inFlight.plan)} ${inFlight.interval}`
      : ""} without paying; the plan is unchanged.`, true);
  saved.checkout = null;
}

async function showPortalReturn() {
  $("return-title").textContent = "Billing portal";
  showReturn("portal", "ok", "Back from the billing portal.",
    "Changes made there show here once Stripe's webhook has been applied.", false);
  // The webhook usually lands within a second or two; refresh for a while to show it.
  for (let i = 0; i < PORTAL_REFRESH_SECONDS && !state.polling; i += 1) {
    await sleep(POLL_MS);
    if (saved.token && !$("workspace").hidden) await loadBilling();
  }
}

// ---- developer panel ----

async function refreshWebhooks() {
  if (!state.demo || !state.demo.stripe_emulator || !saved.token) return;
  try {
    const w = await call("GET", `${DEV}/stripe/webhooks`);
    $("webhooks-state").textContent = w.paused
      ? `paused — ${w.backlog} event(s) held back` : "delivering";
    $("webhooks-state").dataset.paused = String(w.paused);
  } catch (failure) {
    $("webhooks-state").textContent = `unknown (${failure.code})`;
  }
}

async function devAction(path, body) {
  clearError();
  try { await call("POST", `${DEV}/stripe/${path}`, { body }); }
  catch (failure) { showError(failure); }
  await refreshWebhooks();
}

// ---- start ----

async function start() {
  $("demo-signin").addEventListener("click", () => signIn(state.demo.demo_owner_token));
  $("token-use").addEventListener("click", () => signIn($("token-input").value.trim()));
  $("signout").addEventListener("click", signOut);
  $("workspace-select").addEventListener("change", () => { clearError(); selectWorkspace(); });
  $("manage").addEventListener("click", openPortal);
  $("return-back").addEventListener("click", backToPlans);
  $("webhooks-pause").addEventListener("click", () => devAction("webhooks/pause"));
  $("webhooks-resume").addEventListener("click", () => devAction("webhooks/resume"));
  const settle = (ok) => devAction(
    `checkout-sessions/${$("settle-tools").dataset.session}/settle`, { succeeded: ok });
  $("settle-ok").addEventListener("click", () => settle(true));
  $("settle-fail").addEventListener("click", () => settle(false));

  state.demo = await call("GET", `${DEV}/demo`, { auth: false }).catch(() => null);
  if (state.demo) {
    $("demo-signin").hidden = !state.demo.demo_owner_token;
    $("emulator-tools").hidden = !state.demo.stripe_emulator;
    $("no-emulator").hidden = state.demo.stripe_emulator;
    $("reconcile-seconds").textContent = state.demo.checkout_pending_reconcile_seconds;
  }
  await loadPlans();
  if (saved.token) await loadWorkspaces();
  await refreshWebhooks();

  const params = new URLSearchParams(window.location.search);
  if (params.get("checkout") === "success" && params.get("session_id")) {
    await pollCheckout(params.get("session_id"));
  } else if (params.get("checkout") === "canceled") {
    showAbandoned();
  } else if (params.get("portal") === "returned") {
    await showPortalReturn();
  }
}

start();
window.billingPage = { describe, ApiFailure };
