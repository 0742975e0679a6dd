// The three stock clients the frontends use, each set up as its documentation shows, plus
// plain fetch for the writes that cause events. Every subscription is wrapped in a Feed, so a
// test reads events the same way whichever client delivered them.
import {
  ApolloClient,
  ApolloLink,
  HttpLink,
  InMemoryCache,
} from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { Client as UrqlClient, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";
import { print } from "graphql";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { httpUrl, wsUrl } from "./env.mjs";

const EVENT_WAIT_MS = 5000;

// Apollo's GraphQLWsLink turns a subscription's `error` message into CombinedGraphQLErrors only
// after checking `err.target?.readyState === WebSocket.CLOSED` (link/subscriptions/index.js,
// isLikeErrorEvent): on Node 20, without a global WebSocket, that check throws a ReferenceError
// instead. Browsers have one; so does this process, from `ws`.
globalThis.WebSocket ??= WebSocket;

/** A graphql-ws client as the frontends create it: connectionParams carry the access token. */
export function wsClient(accessToken, url = wsUrl()) {
  return createClient({
    url,
    webSocketImpl: WebSocket, // Node 20 has no global WebSocket
    connectionParams: { accessToken },
    retryAttempts: 0,
    lazy: true,
  });
}

/**
 * Results of one subscription as they arrive; `next(predicate)` resolves with the first result's
 * data (from now on, skipping others) that the predicate accepts, and rejects on an error.
 */
export class Feed {
  constructor(label) {
    this.label = label;
    this.queue = [];
    this.waiters = [];
    this.seen = [];
    this.closers = [];
  }

  push(item) {
    this.seen.push(item);
    this.queue.push(item);
    this.#drain();
  }

  #drain() {
    while (this.waiters.length && this.queue.length) {
      const waiter = this.waiters[0];
      const item = this.queue.shift();
      if (item.error) {
        this.waiters.shift().reject(item.error);
      } else if (waiter.predicate(item.data)) {
        this.waiters.shift().resolve(item.data);
      }
    }
  }

  next(predicate = () => true, waitMs = EVENT_WAIT_MS) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const seen = JSON.stringify(this.seen.map((item) => item.error?.message ?? item.data));
        reject(new Error(`${this.label}: no matching event within ${waitMs} ms; seen: ${seen}`));
      }, waitMs);
      const waiter = {
        predicate,
        resolve: (data) => { clearTimeout(timer); resolve(data); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      };
      this.waiters.push(waiter);
      this.#drain();
    });
  }

  /** Like next(), but undefined instead of a rejection when nothing matched in time. */
  async maybeNext(predicate, waitMs) {
    try {
      return await this.next(predicate, waitMs);
    } catch (error) {
      if (String(error.message).includes("no matching event")) return undefined;
      throw error;
    }
  }

  onClose(closer) {
    this.closers.push(closer);
  }

  async close() {
    for (const closer of this.closers.reverse()) await closer();
  }
}

function asError(errors) {
  const list = Array.isArray(errors) ? errors : [errors];
  const error = new Error(list.map((e) => e?.message ?? String(e)).join("; "));
  error.graphQLErrors = list;
  return error;
}

/** Subscribes with graphql-ws's own client. */
export function subscribeWithGraphqlWs({ document, variables, token }) {
  const feed = new Feed("graphql-ws");
  const client = wsClient(token);
  const unsubscribe = client.subscribe(
    { query: print(document), variables },
    {
      next: (result) => feed.push(result.errors ? { error: asError(result.errors) } : { data: result.data }),
      error: (error) => feed.push({ error: error instanceof Error ? error : asError(error) }),
      complete: () => {},
    },
  );
  feed.onClose(async () => {
    unsubscribe();
    await client.dispose();
  });
  return feed;
}

/**
 * An Apollo Client 4 as its documentation sets one up: GraphQLWsLink for subscriptions split
 * from HttpLink for the rest, and an InMemoryCache with no options (default dataIdFromObject,
 * no typePolicies). `requests` counts the operations that went over HTTP.
 */
export function apolloClient({ token, url = httpUrl(), subscriptionsUrl = wsUrl(), httpOptions = {} }) {
  const ws = wsClient(token, subscriptionsUrl);
  const requests = [];
  const counting = new ApolloLink((operation, forward) => {
    requests.push(operation.operationName);
    return forward(operation);
  });
  const http = new HttpLink({ uri: url, headers: { authorization: `Bearer ${token}` }, ...httpOptions });
  const link = ApolloLink.split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === "OperationDefinition" && definition.operation === "subscription";
    },
    new GraphQLWsLink(ws),
    counting.concat(http),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  return {
    client,
    requests,
    async close() {
      client.stop();
      await ws.dispose();
    },
  };
}

/** Subscribes through an Apollo client (made here unless given). */
export function subscribeWithApollo({ document, variables, token, apollo }) {
  const feed = new Feed("Apollo Client");
  const owned = apollo ? undefined : apolloClient({ token });
  const client = (apollo ?? owned).client;
  const subscription = client.subscribe({ query: document, variables }).subscribe({
    next: (result) => feed.push(result.error ? { error: result.error } : { data: result.data }),
    error: (error) => feed.push({ error }),
  });
  feed.onClose(async () => {
    subscription.unsubscribe();
    if (owned) await owned.close();
  });
  return feed;
}

/** Subscribes through urql's core client: subscriptionExchange over graphql-ws. */
export function subscribeWithUrql({ document, variables, token }) {
  const feed = new Feed("urql");
  const ws = wsClient(token);
  const client = new UrqlClient({
    url: httpUrl(),
    fetchOptions: { headers: { authorization: `Bearer ${token}` } },
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || "" };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  const { unsubscribe } = client.subscription(document, variables).subscribe((result) =>
    feed.push(result.error ? { error: result.error } : { data: result.data }),
  );
  feed.onClose(async () => {
    unsubscribe();
    await ws.dispose();
  });
  return feed;
}

export const SUBSCRIBERS = {
  "graphql-ws": subscribeWithGraphqlWs,
  "Apollo Client": subscribeWithApollo,
  urql: subscribeWithUrql,
};

/** One operation over plain HTTP (the writes that cause events); its data, or throws. */
export async function post(document, variables, token, url = httpUrl()) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: typeof document === "string" ? document : print(document), variables }),
  });
  const body = await response.json();
  if (response.status !== 200 || body.errors) {
    throw new Error(`HTTP ${response.status}: ${JSON.stringify(body)}`);
  }
  return body.data;
}

/**
 * Writes with `write(attempt)` until `feed` delivers a result that `accepts` (given the
 * results of every write so far), waiting up to `waitMs` after each write: no protocol message
 * says when a subscription is listening, so the first write may come before it is. Bounded.
 */
export async function writeUntilReceived(feed, write, accepts, { attempts = 20, waitMs = 500 } = {}) {
  const written = [];
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    written.push(await write(attempt));
    const event = await feed.maybeNext((data) => accepts(data, written), waitMs);
    if (event !== undefined) return { event, written };
  }
  const seen = JSON.stringify(feed.seen.map((item) => item.error?.message ?? item.data));
  throw new Error(`${feed.label}: no event after ${attempts} writes; seen: ${seen}`);
}
