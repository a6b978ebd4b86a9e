// The demo page's link to the billing API: requests, error wording, what the browser keeps.
export const API = "/api/v1/stripe";
export const DEV = "/api/v1/dev";
export const POLL_MS = 1000;
export const PORTAL_REFRESH_SECONDS = 30;
export const PLANS = ["pro", "business"];
export const INTERVALS = ["monthly", "yearly"];

// What each error answer of the contract means to the person at the page.
export const ERROR_MESSAGES = {
  SUBSCRIPTION_ALREADY_ACTIVE:
    "This workspace already pays for a plan. Use “Manage billing” to switch or cancel it.",
  PLAN_NOT_AVAILABLE:
    "That plan is not for sale right now: Stripe's catalog has no price for it. " +
    "Pick another plan, or contact sales.",
  FORBIDDEN:
    "Only the workspace's owners and admins can manage billing. Ask an owner to do it.",
  BILLING_UNAVAILABLE:
    "Billing is unavailable for a moment. Nothing was charged — try again shortly.",
  RATE_LIMITED: "Too many requests at once.",
  UNAUTHENTICATED: "Your sign-in token is missing, invalid or expired. Sign in again.",
  WORKSPACE_NOT_FOUND: "This workspace does not exist, or you are not one of its members.",
  CHECKOUT_SESSION_NOT_FOUND: "This checkout does not belong to the selected workspace.",
  STRIPE_CHECKOUT_SESSION_FAILED: "Stripe could not open a checkout. Try again in a moment.",
  STRIPE_PORTAL_SESSION_FAILED: "Stripe could not open the billing portal. Try again.",
  IDEMPOTENCY_KEY_REUSED_WITH_DIFFERENT_PAYLOAD:
    "This purchase attempt was already used for another plan. Click the plan again.",
  IDEMPOTENCY_KEY_EXPIRED: "This purchase attempt expired. Click the plan again.",
};

export class ApiFailure extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export const saved = {
  get token() { return localStorage.getItem("billing.token"); },
  set token(value) {
    if (value) localStorage.setItem("billing.token", value);
    else localStorage.removeItem("billing.token");
  },
  get workspace() { return localStorage.getItem("billing.workspace"); },
  set workspace(value) { localStorage.setItem("billing.workspace", value); },
  // The purchase in flight: the success URL names the session, not the workspace.
  get checkout() { return JSON.parse(localStorage.getItem("billing.checkout") || "null"); },
  set checkout(value) {
    if (value) localStorage.setItem("billing.checkout", JSON.stringify(value));
    else localStorage.removeItem("billing.checkout");
  },
};

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export async function call(method, path, { body, idempotencyKey, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (auth && saved.token) headers.Authorization = `Bearer ${saved.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiFailure(0, "NETWORK", "The billing API did not answer.", null);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiFailure(
      response.status, error.code || `HTTP_${response.status}`,
      error.message || response.statusText, response.headers.get("Retry-After"));
  }
  return data;
}

export function describe(failure) {
  let text = ERROR_MESSAGES[failure.code] || failure.message || "Something went wrong.";
  if (failure.code === "RATE_LIMITED") {
    text += ` Try again in ${failure.retryAfter || "a few"} seconds.`;
  }
  return text;
}
