// The server's addresses, tokens and ids, from the environment set by the pytest wrapper
// (tests/e2e/test_node_clients.py): CG_HTTP_URL (…/graphql over HTTP; writes and queries),
// CG_WS_URL (ws://…/graphql; subscriptions, on another server process when Redis is configured),
// CG_TOKEN_<ROLE>, CG_<THING>_ID, CG_<ROLE>_NAME.

/** The variable's value; throws with its name when the wrapper did not set it. */
export function setting(name) {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set: run this through tests/e2e/test_node_clients.py`);
  }
  return value;
}

/** A comma-separated variable as a list. */
export function settings(name) {
  return setting(name).split(",");
}

export const httpUrl = () => setting("CG_HTTP_URL");
export const wsUrl = () => setting("CG_WS_URL");
export const token = (role) => setting(`CG_TOKEN_${role.toUpperCase()}`);
