// The signed-in account: sign up, in and out, and who it is.

import { api, saveTokens, savedTokens } from "./api.js";

let current = null;

/** The signed-in user (GET /me), or null when signed out. */
export async function currentUser() {
  if (!savedTokens()) return null;
  if (current) return current;
  try {
    current = await api("/me");
  } catch {
    saveTokens(null);
    current = null;
  }
  return current;
}

export async function signIn(username, password) {
  const form = new URLSearchParams({ username, password, grant_type: "password" });
  const tokens = await api("/auth/token", { method: "POST", body: form });
  saveTokens(tokens);
  current = null;
  return currentUser();
}

export async function signUp(username, password, email, role) {
  await api("/auth/register", {
    method: "POST",
    body: { username, password, email: email || null, role },
  });
  return signIn(username, password);
}

export async function signOut() {
  try {
    await api("/auth/logout", { method: "POST" });
  } finally {
    saveTokens(null);
    current = null;
  }
}
